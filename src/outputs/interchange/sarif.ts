import type { Log } from "sarif";
import type { Finding, Severity } from "../../model/finding.js";

// SARIF 2.1.0 for code-scanning dashboards. A cloud finding has no source file: it is located
// logically (account / resource) and, for viewers that insist on a file, at a stable pseudo-path.
// partialFingerprints carry the finding id so re-uploads update instead of duplicating.

const LEVEL: Record<Severity, "error" | "warning" | "note"> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
};

// GitHub ranks alerts by this property (0–10).
const SCORE: Record<Severity, string> = { critical: "9.5", high: "8.0", medium: "5.5", low: "3.0" };

export interface ToolInfo {
  version: string;
  /** Per check: a one-line description for the rule. */
  describe?: (check: string) => string | undefined;
}

export function sarifReport(findings: Finding[], tool: ToolInfo): Log {
  const checks = [...new Set(findings.map((f) => f.check))].sort();
  const index = new Map(checks.map((c, i) => [c, i]));
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "iamwarden",
            version: tool.version,
            informationUri: "https://github.com/iamwarden/iamwarden",
            rules: checks.map((c) => ({
              id: c,
              name: c,
              shortDescription: { text: tool.describe?.(c) ?? c },
              properties: { tags: ["security", "iam"] },
            })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.check,
          ruleIndex: index.get(f.check),
          level: LEVEL[f.severity],
          message: { text: f.title },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: `cloud/${f.account}/${f.check}` },
                region: { startLine: 1 },
              },
              logicalLocations: [
                { name: f.resource, fullyQualifiedName: `${f.account}/${f.resource}`, kind: "resource" },
              ],
            },
          ],
          partialFingerprints: { "iamwardenFinding/v1": f.id },
          properties: {
            "security-severity": SCORE[f.severity],
            account: f.account,
            ...(f.accountAlias ? { accountAlias: f.accountAlias } : {}),
            owner: f.owner,
            status: f.status,
            firstSeen: f.firstSeen,
            lastSeen: f.lastSeen,
          },
        })),
      },
    ],
  };
}
