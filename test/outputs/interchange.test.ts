import { describe, expect, it } from "vitest";
import type { Finding } from "../../src/model/finding.js";
import { asffFindings } from "../../src/outputs/interchange/asff.js";
import { markdownReport, mdCell } from "../../src/outputs/interchange/markdown.js";
import { ocsfFindings } from "../../src/outputs/interchange/ocsf.js";
import { sarifReport } from "../../src/outputs/interchange/sarif.js";

const now = new Date("2026-11-23T09:00:00Z");
const finding = (over: Partial<Finding>): Finding => ({
  id: "key-age/111122223333/0123456789ab",
  check: "key-age",
  account: "111122223333",
  accountAlias: "prod",
  resource: "AKIA…WXYZ",
  owner: "alice",
  severity: "high",
  status: "open",
  title: "Access key of alice is 200 days old, past the 180-day limit",
  details: { userArn: "arn:aws:iam::111122223333:user/alice" },
  firstSeen: "2026-11-01T00:00:00.000Z",
  lastSeen: "2026-11-23T09:00:00.000Z",
  statusChangedAt: "2026-11-01T00:00:00.000Z",
  tickets: {},
  ...over,
});

const findings = [
  finding({}),
  finding({
    id: "iam-change/111122223333/aaaaaaaaaaaa",
    check: "iam-change",
    severity: "critical",
    resource: "arn:aws:iam::111122223333:user/mallory",
    owner: "mallory",
    title: "mallory | <b>made</b> IAM changes",
    status: "suppressed",
    details: {},
  }),
  finding({
    id: "key-inactive/111122223333/bbbbbbbbbbbb",
    check: "key-inactive",
    severity: "medium",
    status: "resolved",
    title: "x".repeat(300),
  }),
];

describe("SARIF", () => {
  it("has one rule per check, levels by severity, and the finding id as fingerprint", () => {
    const log = sarifReport(findings, { version: "0.2.0" });
    const run = log.runs[0]!;
    expect(log.version).toBe("2.1.0");
    expect(run.tool.driver.rules?.map((r) => r.id)).toEqual(["iam-change", "key-age", "key-inactive"]);
    expect(run.results?.map((r) => r.level)).toEqual(["error", "error", "warning"]);
    const first = run.results![0]!;
    expect(run.tool.driver.rules![first.ruleIndex!]!.id).toBe(first.ruleId);
    expect(first.partialFingerprints).toEqual({ "iamwardenFinding/v1": findings[0]!.id });
    expect(first.properties?.["security-severity"]).toBe("8.0");
  });
});

describe("ASFF", () => {
  it("carries the fields BatchImportFindings requires, within Security Hub's limits", () => {
    const out = asffFindings(findings, { region: "us-east-1", now }) as Record<string, unknown>[];
    for (const f of out)
      for (const k of [
        "SchemaVersion",
        "Id",
        "ProductArn",
        "GeneratorId",
        "AwsAccountId",
        "Types",
        "CreatedAt",
        "UpdatedAt",
        "Severity",
        "Title",
        "Description",
        "Resources",
      ])
        expect(f, k).toHaveProperty(k);
    expect(out[0]).toMatchObject({
      ProductArn: "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default",
      Severity: { Label: "HIGH" },
      Resources: [{ Type: "AwsIamAccessKey" }],
      Workflow: { Status: "NEW" },
      RecordState: "ACTIVE",
    });
    expect(out[1]).toMatchObject({
      Resources: [{ Type: "AwsIamUser" }],
      Workflow: { Status: "SUPPRESSED" },
      RecordState: "ARCHIVED",
    });
    expect((out[2]!.Title as string).length).toBe(256);
  });
});

describe("OCSF", () => {
  it("is a Detection Finding with severity, status and times in epoch milliseconds", () => {
    // biome-ignore lint/suspicious/noExplicitAny: reading a nested JSON document
    const out = ocsfFindings(findings, { version: "0.2.0", now }) as Record<string, any>[];
    expect(out[0]).toMatchObject({
      class_uid: 2004,
      category_uid: 2,
      severity_id: 4,
      status: "New",
      activity_id: 2,
      type_uid: 200402,
    });
    expect(out[0]!.finding_info.first_seen_time).toBe(Date.parse("2026-11-01T00:00:00.000Z"));
    expect(out[1]).toMatchObject({ severity_id: 5, status: "Suppressed", activity_id: 3 });
  });
});

describe("Markdown", () => {
  it("totals by severity and escapes names that would break the table or inject markup", () => {
    const md = markdownReport(findings, { now });
    expect(md).toContain("| critical | 1 |");
    expect(md).toContain("## Critical (1)");
    expect(md).toContain("mallory \\| \\<b\\>made\\</b\\> IAM changes");
    expect(mdCell("a\nb\u001b[31m")).toBe("a b [31m".replace("[", "\\["));
  });
});
