import { readFileSync } from "node:fs";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { probeChannels } from "../actions/notify/probe.js";
import type { AwsClientFactory } from "../cloud/aws/clients.js";
import { describeAwsError } from "../cloud/aws/errors.js";
import { probeAccount } from "../cloud/aws/probe.js";
import { resolveTargets } from "../cloud/aws/targets.js";
import type { LoadedConfig } from "../config/load.js";

// `doctor`: is everything iamwarden needs in place? One row per thing checked, with the fix.

export interface DoctorRow {
  area: string;
  check: string;
  verdict: "ok" | "fail" | "warn";
  detail: string;
  fix?: string | undefined;
}

export interface DoctorReport {
  rows: DoctorRow[];
  failed: number;
}

export interface DoctorDeps {
  loaded: LoadedConfig;
  factory: AwsClientFactory;
  /** Accounts to probe; all configured ones when empty. */
  only?: string[] | undefined;
}

/** The actions a bundled policy grants, which is what each account needs. */
function policyActions(name: string): string[] {
  const doc = JSON.parse(readFileSync(new URL(`../../policy/${name}`, import.meta.url), "utf8")) as {
    Statement: { Action: string | string[] }[];
  };
  return [...new Set(doc.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])))];
}

const SOURCE = {
  flag: "from --config",
  cwd: "found in the working directory",
  env: "from IAMWARDEN_CONFIG",
  defaults: "none: defaults",
};

export async function runDoctor(deps: DoctorDeps): Promise<DoctorReport> {
  const { loaded, factory } = deps;
  const config = loaded.config;
  const hints = { endpoint: config.aws.endpoint, profile: config.aws.profile };
  const rows: DoctorRow[] = [
    {
      area: "config",
      check: "file",
      verdict: "ok",
      detail: `${loaded.path ?? "-"} (${SOURCE[loaded.source]})`,
    },
    ...loaded.deferred.map(
      (d): DoctorRow => ({
        area: "config",
        check: d.section,
        verdict: "fail",
        detail: d.problem,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax, shown to the user
        fix: "set the variable, or give a default with ${NAME:-value}",
      }),
    ),
  ];

  let caller: string | undefined;
  try {
    caller = (await factory.home.sts.send(new GetCallerIdentityCommand({}))).Arn;
    rows.push({ area: "aws", check: "credentials", verdict: "ok", detail: caller ?? "?" });
  } catch (e) {
    rows.push({ area: "aws", check: "credentials", verdict: "fail", detail: describeAwsError(e, hints) });
  }

  if (caller) {
    try {
      const targets = await resolveTargets(config, factory, {
        only: deps.only?.length ? deps.only : undefined,
      });
      const scan = policyActions("iamwarden-audit.json");
      const remediate = policyActions("iamwarden-remediate.json");
      for (const t of targets) {
        const actions = config.remediation.accounts.includes(t.id)
          ? [...new Set([...scan, ...remediate])]
          : scan;
        const p = await probeAccount(factory, t, actions, hints);
        const area = `account ${t.id}${t.alias ? ` (${t.alias})` : ""}`;
        rows.push({
          area,
          check: t.roleArn ? "assume role" : "access",
          verdict: p.access.verdict === "ok" ? "ok" : "fail",
          detail: p.access.verdict === "ok" ? (p.identity ?? "?") : (p.access.detail ?? "failed"),
          ...(p.access.verdict === "ok"
            ? {}
            : { fix: "check the role's trust policy (policy/trust-policy.json) and externalId" }),
        });
        if (p.access.verdict !== "ok") continue;
        for (const r of p.permissions)
          rows.push({
            area,
            check: r.action,
            verdict: r.verdict === "ok" ? "ok" : r.verdict === "fail" ? "fail" : "warn",
            detail: `${r.how === "simulation" ? "policy simulation" : r.how === "read" ? "harmless read" : "not checked"}${r.detail ? `: ${r.detail}` : ""}`,
            ...(r.verdict === "fail"
              ? {
                  fix: `grant ${r.action} (${remediate.includes(r.action) && !scan.includes(r.action) ? "policy/iamwarden-remediate.json" : "policy/iamwarden-audit.json"})`,
                }
              : {}),
          });
      }
    } catch (e) {
      rows.push({ area: "aws", check: "accounts", verdict: "fail", detail: describeAwsError(e, hints) });
    }
  }

  for (const c of await probeChannels(config.notify, () => factory.home.sns))
    rows.push({
      area: `channel ${c.channel}`,
      check: "reach",
      verdict: c.verdict === "ok" ? "ok" : c.verdict === "fail" ? "fail" : "warn",
      detail: c.detail,
      fix: c.fix,
    });
  return { rows, failed: rows.filter((r) => r.verdict === "fail").length };
}
