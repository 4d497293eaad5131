import {
  GetCredentialReportCommand,
  ListUsersCommand,
  SimulatePrincipalPolicyCommand,
} from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { AccountTarget } from "../target.js";
import type { AwsClientFactory } from "./clients.js";
import { awsErrorCode, describeAwsError, isReportNotReady } from "./errors.js";

// What `doctor` asks of an account: can iamwarden get in, and which of the permissions it needs
// does it have. Reads only: IAM's policy simulator where the role may call it, otherwise a harmless
// read per action that has one.

export type Verdict = "ok" | "fail" | "unknown";

export interface PermissionResult {
  action: string;
  verdict: Verdict;
  how: "simulation" | "read" | "none";
  detail?: string | undefined;
}

export interface AccountProbe {
  account: string;
  /** The identity iamwarden acts as there (the assumed role's ARN). */
  identity?: string | undefined;
  access: { verdict: Verdict; detail?: string | undefined };
  permissions: PermissionResult[];
}

/** The role ARN behind an assumed-role session ARN, which is what the simulator takes. */
export function principalArn(callerArn: string): string {
  const m = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

type Clients = ReturnType<AwsClientFactory["forAccount"]>;

/** Harmless reads that prove one permission each (a denied read is AccessDenied). */
const READS: Record<string, (c: Clients) => Promise<unknown>> = {
  "iam:ListUsers": (c) => c.iam.send(new ListUsersCommand({ MaxItems: 1 })),
  "iam:GetCredentialReport": (c) =>
    c.iam.send(new GetCredentialReportCommand({})).catch((e) => {
      // No report yet still means the call was allowed.
      if (!isReportNotReady(e)) throw e;
    }),
};

export async function probeAccount(
  factory: AwsClientFactory,
  target: AccountTarget,
  actions: string[],
  hints: { endpoint?: string | undefined } = {},
): Promise<AccountProbe> {
  const clients = factory.forAccount(target);
  let identity: string | undefined;
  try {
    identity = (await clients.sts.send(new GetCallerIdentityCommand({}))).Arn;
  } catch (e) {
    return {
      account: target.id,
      access: { verdict: "fail", detail: describeAwsError(e, hints) },
      permissions: actions.map((action) => ({ action, verdict: "unknown", how: "none" })),
    };
  }
  const out: AccountProbe = { account: target.id, identity, access: { verdict: "ok" }, permissions: [] };
  try {
    const r = await clients.iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: principalArn(identity ?? ""),
        ActionNames: actions,
      }),
    );
    const byAction = new Map((r.EvaluationResults ?? []).map((e) => [e.EvalActionName, e.EvalDecision]));
    out.permissions = actions.map((action) => {
      const d = byAction.get(action);
      return {
        action,
        verdict: d === "allowed" ? "ok" : d ? "fail" : "unknown",
        how: "simulation",
        ...(d && d !== "allowed" ? { detail: d } : {}),
      };
    });
    return out;
  } catch (e) {
    // Not allowed to simulate (or an emulator without the simulator): fall back to reads.
    const why = awsErrorCode(e) ?? "error";
    for (const action of actions) {
      const read = READS[action];
      if (!read) {
        out.permissions.push({
          action,
          verdict: "unknown",
          how: "none",
          detail: `no harmless read; simulation: ${why}`,
        });
        continue;
      }
      try {
        await read(clients);
        out.permissions.push({ action, verdict: "ok", how: "read" });
      } catch (err) {
        out.permissions.push({ action, verdict: "fail", how: "read", detail: describeAwsError(err, hints) });
      }
    }
    return out;
  }
}
