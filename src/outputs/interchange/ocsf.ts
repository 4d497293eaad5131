import type { Finding, Severity } from "../../model/finding.js";

// OCSF 1.1 Detection Finding (class 2004): the schema Security Lake and most SIEMs ingest.

const SEVERITY_ID: Record<Severity, number> = { low: 2, medium: 3, high: 4, critical: 5 };
const STATUS: Record<Finding["status"], [number, string]> = {
  open: [1, "New"],
  suppressed: [3, "Suppressed"],
  resolved: [4, "Resolved"],
  remediated: [4, "Resolved"],
};

const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : undefined);

export function ocsfFindings(findings: Finding[], opts: { version: string; now: Date }): object[] {
  return findings.map((f) => {
    const [statusId, status] = STATUS[f.status];
    return {
      category_uid: 2,
      category_name: "Findings",
      class_uid: 2004,
      class_name: "Detection Finding",
      // activity 1 Create, 2 Update, 3 Close; type_uid = class_uid * 100 + activity_id.
      activity_id: f.status === "open" ? (f.firstSeen === f.lastSeen ? 1 : 2) : 3,
      type_uid: 200400 + (f.status === "open" ? (f.firstSeen === f.lastSeen ? 1 : 2) : 3),
      severity_id: SEVERITY_ID[f.severity],
      severity: f.severity[0]!.toUpperCase() + f.severity.slice(1),
      status_id: statusId,
      status,
      time: opts.now.getTime(),
      message: f.title,
      finding_info: {
        uid: f.id,
        title: f.title,
        types: [f.check],
        first_seen_time: ms(f.firstSeen),
        last_seen_time: ms(f.lastSeen),
        analytic: { uid: f.check, name: f.check, type_id: 1, type: "Rule" },
      },
      cloud: {
        provider: "AWS",
        account: { uid: f.account, ...(f.accountAlias ? { name: f.accountAlias } : {}) },
      },
      resources: [{ uid: f.resource, type: "IAM", ...(f.owner ? { owner: { name: f.owner } } : {}) }],
      metadata: {
        version: "1.1.0",
        product: { name: "iamwarden", vendor_name: "iamwarden", version: opts.version },
      },
    };
  });
}
