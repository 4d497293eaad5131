import {
  GenerateCredentialReportCommand,
  GetCredentialReportCommand,
  type IAMClient,
} from "@aws-sdk/client-iam";
import pLimit from "p-limit";
import {
  describeAwsError,
  isLimitExceeded,
  isNoSuchEntity,
  isReportNotReady,
} from "../../cloud/aws/errors.js";
import type { AccountTarget } from "../../cloud/target.js";
import type { AccessKey, AccountSnapshot } from "../../model/observations.js";
import { parseCredentialReport, snapshotsFromReport } from "../credential-report.js";
import { listUserKeys } from "./iam-api.js";

// The credential-report read: one report per account instead of two calls per user. AWS builds
// the report asynchronously and keeps it for 4 hours: GenerateCredentialReport answers COMPLETE at
// once while a fresh one exists, STARTED/INPROGRESS otherwise, and LimitExceeded when asked too
// often. The report has no key ids; `resolveReportKeyIds` fetches them only for the users that
// have findings.

export interface ReportPollOptions {
  /** First wait between polls; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this long (a CredentialReportTimeout error). */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface FetchedReport {
  csv: string;
  generatedTime?: Date | undefined;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class CredentialReportTimeout extends Error {
  override readonly name = "CredentialReportTimeout";
}

/** Generates (or reuses a fresh) credential report, polling with backoff, and downloads it. */
export async function fetchCredentialReport(
  iam: IAMClient,
  opts: ReportPollOptions = {},
): Promise<FetchedReport> {
  const sleep = opts.sleep ?? defaultSleep;
  const maxDelay = opts.maxDelayMs ?? 10_000;
  const timeout = opts.timeoutMs ?? 300_000;
  const started = Date.now();
  let delay = opts.initialDelayMs ?? 1_000;
  let last = "no answer yet";

  for (;;) {
    try {
      const gen = await iam.send(new GenerateCredentialReportCommand({}));
      last = `state ${gen.State ?? "unknown"}`;
      if (gen.State === "COMPLETE") {
        const r = await iam.send(new GetCredentialReportCommand({}));
        if (!r.Content) throw new Error("GetCredentialReport returned no Content");
        return { csv: Buffer.from(r.Content).toString("utf8"), generatedTime: r.GeneratedTime };
      }
    } catch (e) {
      // Asked too often, or the report expired or vanished between the two calls: wait, ask again.
      if (!isLimitExceeded(e) && !isReportNotReady(e)) throw e;
      last = describeAwsError(e);
    }
    if (Date.now() - started + delay > timeout)
      throw new CredentialReportTimeout(
        `credential report not ready after ${Math.round((Date.now() - started) / 1000)}s (${last})`,
      );
    await sleep(delay);
    delay = Math.min(delay * 2, maxDelay);
  }
}

/** Reads one account through its credential report (root keys included). */
export async function readAccountViaReport(
  iam: IAMClient,
  target: AccountTarget,
  opts: ReportPollOptions = {},
): Promise<AccountSnapshot> {
  const report = await fetchCredentialReport(iam, opts);
  const rows = parseCredentialReport(report.csv, `credential report of ${target.id}`);
  const snapshots = snapshotsFromReport(rows, { [target.id]: target.alias });
  const other = snapshots.find((s) => s.account.id !== target.id);
  if (other)
    throw new Error(`the credential report read for account ${target.id} is of account ${other.account.id}`);
  return (
    snapshots[0] ?? {
      account: { id: target.id, alias: target.alias },
      source: "credential-report",
      users: [],
      keys: [],
      root: [],
      complete: true,
      warnings: [],
    }
  );
}

const second = (d: Date) => Math.floor(d.getTime() / 1000);

/**
 * Sets `keyId` on report-derived keys by matching ListAccessKeys of their user on the creation
 * time, which the report gives to the second as access_key_N_last_rotated. A key that matches no
 * listed key, or more than one, keeps no id and gets `matchNote` saying why: never a guess.
 * The key's status is taken from ListAccessKeys, which is live where the report may be hours old.
 */
export async function resolveReportKeyIds(
  iam: IAMClient,
  keys: AccessKey[],
  opts: { concurrency: number },
): Promise<void> {
  const byUser = new Map<string, AccessKey[]>();
  for (const k of keys) {
    if (k.keyId) continue;
    const list = byUser.get(k.user);
    if (list) list.push(k);
    else byUser.set(k.user, [k]);
  }
  const limit = pLimit(opts.concurrency);
  await Promise.all(
    [...byUser].map(([user, userKeys]) =>
      limit(async () => {
        let listed: Awaited<ReturnType<typeof listUserKeys>>;
        try {
          listed = await listUserKeys(iam, user);
        } catch (e) {
          const note = isNoSuchEntity(e)
            ? `user ${user} no longer exists`
            : `ListAccessKeys failed: ${describeAwsError(e)}`;
          for (const k of userKeys) k.matchNote = note;
          return;
        }
        for (const k of userKeys) {
          const when = k.createDate.toISOString().replace(".000Z", "Z");
          const same = listed.filter((m) => m.CreateDate && second(m.CreateDate) === second(k.createDate));
          const match = same[0];
          if (same.length === 1 && match?.AccessKeyId) {
            k.keyId = match.AccessKeyId;
            k.matchNote = undefined;
            if (match.Status) k.status = match.Status === "Active" ? "Active" : "Inactive";
          } else if (!same.length) {
            k.matchNote = `no key of ${user} created at ${when} is listed now: rotated or deleted since the report`;
          } else {
            k.matchNote = `${same.length} keys of ${user} were created at ${when}: cannot tell which is key ${k.slot ?? "?"}`;
          }
        }
      }),
    ),
  );
}
