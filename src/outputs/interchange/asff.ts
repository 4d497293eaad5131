import { checkNamed } from "../../checks/registry.js";
import type { Finding, Severity } from "../../model/finding.js";

// AWS Security Finding Format, the shape Security Hub's BatchImportFindings takes (up to 100 a
// call). Ids are the finding ids, so a re-import updates. Titles and descriptions are cut to
// Security Hub's limits (256 and 1,024 characters).

const LABEL: Record<Severity, string> = { critical: "CRITICAL", high: "HIGH", medium: "MEDIUM", low: "LOW" };

const cut = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

function resourceOf(f: Finding, partition: string, region: string) {
  // A key finding of a report-derived key without an id is named by user and slot: still a key.
  if (checkNamed(f.check)?.subject === "access-key")
    return {
      Type: "AwsIamAccessKey",
      Id: f.resource,
      Partition: partition,
      Region: region,
      Details: { AwsIamAccessKey: { PrincipalName: f.owner } },
    };
  if (f.resource.startsWith("arn:"))
    return { Type: "AwsIamUser", Id: f.resource, Partition: partition, Region: region };
  return { Type: "Other", Id: `${f.account}/${f.resource}`, Partition: partition, Region: region };
}

export function asffFindings(
  findings: Finding[],
  opts: { region: string; partition?: string; now: Date; describe?: (check: string) => string | undefined },
): object[] {
  const partition = opts.partition ?? "aws";
  return findings.map((f) => ({
    SchemaVersion: "2018-10-08",
    Id: f.id,
    ProductArn: `arn:${partition}:securityhub:${opts.region}:${f.account}:product/${f.account}/default`,
    GeneratorId: `iamwarden/${f.check}`,
    AwsAccountId: f.account,
    Types: ["Software and Configuration Checks/AWS Security Best Practices"],
    CreatedAt: f.firstSeen,
    UpdatedAt: opts.now.toISOString(),
    FirstObservedAt: f.firstSeen,
    LastObservedAt: f.lastSeen,
    Severity: { Label: LABEL[f.severity] },
    Title: cut(f.title, 256),
    Description: cut(opts.describe?.(f.check) ?? f.title, 1024),
    Resources: [resourceOf(f, partition, opts.region)],
    Workflow: { Status: f.status === "open" ? "NEW" : f.status === "suppressed" ? "SUPPRESSED" : "RESOLVED" },
    RecordState: f.status === "open" ? "ACTIVE" : "ARCHIVED",
    ProductFields: {
      "iamwarden/check": f.check,
      "iamwarden/status": f.status,
      ...(f.owner ? { "iamwarden/owner": f.owner } : {}),
    },
  }));
}
