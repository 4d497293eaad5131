import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  parseCredentialReport,
  reportText,
  snapshotsFromReport,
} from "../../src/sources/credential-report.js";

const HEADER =
  "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";
const ROOT =
  "<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
const ALICE =
  "alice,arn:aws:iam::123456789012:user/alice,2021-01-01T00:00:00+00:00,true,2026-01-01T00:00:00+00:00,2021-01-01T00:00:00+00:00,N/A,true,true,2025-01-01T10:20:30+00:00,2025-12-01T00:00:00+00:00,us-east-1,s3,false,2024-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A";
const BOB =
  "bob,arn:aws:iam::123456789012:user/ops/bob,2021-01-01T00:00:00+00:00,false,no_information,N/A,N/A,false,true,2025-06-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";

describe("credential report", () => {
  it("reads keys, understands N/A and no_information, and skips empty slots", () => {
    const rows = parseCredentialReport([HEADER, ROOT, ALICE, BOB].join("\n"), "r.csv");
    expect(rows).toHaveLength(3);
    const [snap] = snapshotsFromReport(rows, { "123456789012": "prod" });
    expect(snap?.account).toEqual({ id: "123456789012", alias: "prod" });
    expect(snap?.root).toEqual([]);
    expect(snap?.users.map((u) => u.name)).toEqual(["alice", "bob"]);
    expect(
      snap?.keys.map((k) => [
        k.user,
        k.slot,
        k.status,
        k.createDate.toISOString(),
        k.lastUsed?.toISOString(),
      ]),
    ).toEqual([
      ["alice", 1, "Active", "2025-01-01T10:20:30.000Z", "2025-12-01T00:00:00.000Z"],
      ["alice", 2, "Inactive", "2024-01-01T00:00:00.000Z", undefined],
      ["bob", 1, "Active", "2025-06-01T00:00:00.000Z", undefined],
    ]);
    expect(snap?.keys[0]).toMatchObject({ lastUsedRegion: "us-east-1", lastUsedService: "s3" });
    expect(snap?.keys[0]?.keyId).toBeUndefined();
  });

  it("names the file and line of a truncated row", () => {
    const truncated = [HEADER, ALICE, BOB.slice(0, 60)].join("\n");
    expect(() => parseCredentialReport(truncated, "r.csv")).toThrow(/^r\.csv:3: /);
  });

  it("names the line and column of a bad date", () => {
    const bad = ALICE.replace("2025-01-01T10:20:30+00:00", "yesterday");
    expect(() => parseCredentialReport([HEADER, bad].join("\n"), "r.csv")).toThrow(
      'r.csv:2: access_key_1_last_rotated is not a date: "yesterday"',
    );
  });

  it("rejects a file that is not a credential report", () => {
    expect(() => parseCredentialReport("a,b\n1,2\n", "x.csv")).toThrow(
      "x.csv:1: not a credential report: missing column user",
    );
    expect(() => parseCredentialReport("", "x.csv")).toThrow("x.csv:1: the credential report is empty");
  });

  it("accepts the JSON that aws iam get-credential-report prints", () => {
    const csv = [HEADER, ALICE].join("\n");
    const json = JSON.stringify({ Content: Buffer.from(csv).toString("base64"), ReportFormat: "text/csv" });
    expect(reportText(json, "r.json")).toBe(csv);
  });

  it("parses the bundled example", () => {
    const rows = parseCredentialReport(readFileSync("examples/credential-report.csv", "utf8"), "example");
    expect(rows.length).toBeGreaterThan(30);
  });
});

describe("credential report: console sign-in", () => {
  it("reads password use, password change, MFA and user creation; root has none", () => {
    const rows = parseCredentialReport([HEADER, ROOT, ALICE, BOB].join("\n"), "r.csv");
    const [snap] = snapshotsFromReport(rows);
    const [alice, bob] = snap?.users ?? [];
    expect(alice).toMatchObject({
      createDate: new Date("2021-01-01T00:00:00Z"),
      passwordEnabled: true,
      passwordLastUsed: new Date("2026-01-01T00:00:00Z"),
      passwordLastChanged: new Date("2021-01-01T00:00:00Z"),
      mfaActive: true,
    });
    // no_information and N/A: never used (or not since tracking began), never set.
    expect(bob).toMatchObject({ passwordEnabled: false, mfaActive: false });
    expect(bob?.passwordLastUsed).toBeUndefined();
    expect(bob?.passwordLastChanged).toBeUndefined();
  });

  it("names the line and column of a bad password date or flag", () => {
    const badDate = ALICE.replace("2026-01-01T00:00:00+00:00", "soon");
    expect(() => parseCredentialReport([HEADER, badDate].join("\n"), "r.csv")).toThrow(
      'r.csv:2: password_last_used is not a date: "soon"',
    );
    const badFlag = BOB.replace(",false,true,2025-06-01", ",maybe,true,2025-06-01");
    expect(() => parseCredentialReport([HEADER, badFlag].join("\n"), "r.csv")).toThrow(
      'r.csv:2: mfa_active must be true or false, got "maybe"',
    );
  });

  it("leaves console sign-in unknown when the report has no such columns", () => {
    const drop = new Set([3, 4, 5, 7]); // password_enabled, _last_used, _last_changed, mfa_active
    const cut = (line: string) =>
      line
        .split(",")
        .filter((_, i) => !drop.has(i))
        .join(",");
    const [snap] = snapshotsFromReport(parseCredentialReport([HEADER, ALICE].map(cut).join("\n"), "r.csv"));
    expect(snap?.users[0]?.passwordEnabled).toBeUndefined();
    expect(snap?.users[0]?.mfaActive).toBeUndefined();
    expect(snap?.users[0]?.createDate).toEqual(new Date("2021-01-01T00:00:00Z"));
  });
});
