import {
  GenerateCredentialReportCommand,
  GetCredentialReportCommand,
  type IAMClient,
} from "@aws-sdk/client-iam";
import pLimit from "p-limit";
import {
  awsErrorCode,
  describeAwsError,
  isAccessDenied,
  isLimitExceeded,
  isNoSuchEntity,
  isReportNotReady,
} from "../../cloud/aws/errors.js";
import type { AccountTarget } from "../../cloud/target.js";
import type { KnownKey, KnownKeysChange } from "../../model/known-key.js";
import type { AccessKey, AccountSnapshot, IamUser } from "../../model/observations.js";
import type { KnownKeysStore } from "../../store/known-keys.js";
import { parseCredentialReport, type ReportRow, snapshotsFromReport } from "../credential-report.js";
import { applyDirectory, type Directory, readDirectory, readUserTags } from "./directory.js";
import { listUserKeys, readOneUser } from "./iam-api.js";
import {
  type ListedKey,
  listedRows,
  matchKnown,
  matchListed,
  mergeChanges,
  type ReportUser,
  staleKnown,
  userIdentity,
} from "./key-ids.js";

// The credential-report read: one report per account instead of two calls per user. AWS builds
// the report asynchronously and keeps it for 4 hours: GenerateCredentialReport answers COMPLETE at
// once while a fresh one exists, STARTED/INPROGRESS otherwise, and LimitExceeded when asked too
// often. The report has no key ids: they come from the keys the store already knows, and from
// ListAccessKeys only for users whose report row shows a key not seen before (key-ids.ts).

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

const isReportInProgress = (e: unknown) =>
  ["ReportInProgress", "CredentialReportNotReadyException"].includes(awsErrorCode(e) ?? "");

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

  const download = async (): Promise<FetchedReport> => {
    const r = await iam.send(new GetCredentialReportCommand({}));
    if (!r.Content) throw new Error("GetCredentialReport returned no Content");
    return { csv: Buffer.from(r.Content).toString("utf8"), generatedTime: r.GeneratedTime };
  };
  // Once generation has started, polling GetCredentialReport itself costs one call a poll where
  // GenerateCredentialReport then GetCredentialReport would cost two at the end.
  let generate = true;
  for (;;) {
    try {
      if (!generate) return await download();
      const gen = await iam.send(new GenerateCredentialReportCommand({}));
      last = `state ${gen.State ?? "unknown"}`;
      if (gen.State === "COMPLETE") return await download();
      generate = false;
    } catch (e) {
      // Asked too often, or the report is not there (yet): wait, ask again. A report that is
      // missing or expired (rather than in progress) must be generated again.
      if (!isLimitExceeded(e) && !isReportNotReady(e)) throw e;
      last = describeAwsError(e);
      if (!isReportInProgress(e)) generate = true;
    }
    if (Date.now() - started + delay > timeout)
      throw new CredentialReportTimeout(
        `credential report not ready after ${Math.round((Date.now() - started) / 1000)}s (${last})`,
      );
    await sleep(delay);
    delay = Math.min(delay * 2, maxDelay);
  }
}

export interface ReportReadOptions {
  poll?: ReportPollOptions | undefined;
  /** Concurrent calls within the account (ListAccessKeys of users whose keys are new). */
  concurrency: number;
  /** Key ids seen before; without it every user with a key is listed. */
  knownKeys?: KnownKeysStore | undefined;
}

const emptySnapshot = (target: AccountTarget): AccountSnapshot => ({
  account: { id: target.id, alias: target.alias },
  source: "credential-report",
  users: [],
  keys: [],
  root: [],
  complete: true,
  warnings: [],
});

/** The directory read, or why it is missing (denied: the caller falls back to tags per user). */
export async function readDirectoryOrWhy(iam: IAMClient): Promise<Directory | string> {
  try {
    return await readDirectory(iam);
  } catch (e) {
    if (!isAccessDenied(e)) throw e;
    return `GetAccountAuthorizationDetails denied (${describeAwsError(e)}): tags read per user instead; groups and policies unknown`;
  }
}

/** Sets tags, groups and policies on the snapshot's users: in bulk, or per user with an Active key. */
export async function enrichUsers(
  iam: IAMClient,
  snapshot: AccountSnapshot,
  dir: Directory | string,
  concurrency: number,
): Promise<void> {
  if (typeof dir === "string") {
    snapshot.warnings.push(dir);
    const judged = new Set(snapshot.keys.filter((k) => k.status === "Active").map((k) => k.user));
    await readUserTags(
      iam,
      snapshot.users.filter((u) => judged.has(u.name)),
      concurrency,
    );
    return;
  }
  snapshot.groups = dir.groups;
  const missing = applyDirectory(snapshot.users, dir);
  if (missing.length)
    snapshot.warnings.push(
      `${missing.length} user(s) of the credential report not in GetAccountAuthorizationDetails (created or deleted in between), tags unknown: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}`,
    );
}

/** Reads one account through its credential report (root keys included), every key with its id. */
export async function readAccountViaReport(
  iam: IAMClient,
  target: AccountTarget,
  opts: ReportReadOptions,
): Promise<AccountSnapshot> {
  const [report, dir, known] = await Promise.all([
    fetchCredentialReport(iam, opts.poll),
    readDirectoryOrWhy(iam),
    opts.knownKeys?.knownKeys(target.id) ?? Promise.resolve([]),
  ]);
  const rows = parseCredentialReport(report.csv, `credential report of ${target.id}`);
  const snapshots = snapshotsFromReport(rows, { [target.id]: target.alias });
  const mine = snapshots.find((s) => s.account.id === target.id);
  const others = snapshots.filter((s) => s.account.id !== target.id);
  if (!mine && others[0])
    throw new Error(
      `the credential report read for account ${target.id} is of account ${others[0].account.id}`,
    );
  const snapshot = mine ?? emptySnapshot(target);
  for (const o of others)
    snapshot.warnings.push(
      `credential report of ${target.id}: ${o.users.length} user(s) of account ${o.account.id} ignored`,
    );
  await readUnsureRows(
    iam,
    snapshot,
    rows.filter((r) => r.unsure && r.account === target.id),
    dir,
  );

  const change = await giveKeyIds(iam, snapshot, known, {
    reportTime: report.generatedTime,
    concurrency: opts.concurrency,
  });
  await enrichUsers(iam, snapshot, dir, opts.concurrency);
  await opts.knownKeys?.saveKnownKeys(target.id, change);
  return snapshot;
}

/**
 * Rows whose user name the report cannot give for sure (unquoted commas): the directory tells
 * which candidate exists, and that user is read through the API. The snapshot is complete again
 * once every such row is read.
 */
async function readUnsureRows(
  iam: IAMClient,
  snapshot: AccountSnapshot,
  rows: ReportRow[],
  dir: Directory | string,
): Promise<void> {
  if (!rows.length) return;
  let unread = 0;
  for (const row of rows) {
    // A candidate without ARN (the row's ARN fitted no name) is tried by name alone.
    const fits = (row.unsure ?? []).flatMap((c) => {
      const d = typeof dir === "string" ? undefined : dir.users.get(c.user);
      return d && (!c.arn || d.arn === c.arn) ? [d] : [];
    });
    const only = fits[0];
    if (fits.length !== 1 || !only || snapshot.users.some((u) => u.name === only.name)) {
      unread++;
      continue;
    }
    const user: IamUser = {
      account: snapshot.account,
      name: only.name,
      arn: only.arn,
      createDate: only.createDate,
    };
    try {
      snapshot.keys.push(...(await readOneUser(iam, user)));
    } catch (e) {
      if (!isNoSuchEntity(e)) throw e;
    }
    snapshot.users.push(user);
    snapshot.warnings.push(
      `line ${row.line}: user ${JSON.stringify(only.name)} read through the IAM API instead`,
    );
  }
  if (!unread) snapshot.complete = true;
}

/**
 * Gives the report's keys their ids: from the known keys where they are sure, otherwise by
 * listing the user's keys (one ListAccessKeys per such user). Returns what to remember.
 */
export async function giveKeyIds(
  iam: IAMClient,
  snapshot: AccountSnapshot,
  known: KnownKey[],
  opts: { reportTime?: Date | undefined; concurrency: number },
): Promise<KnownKeysChange> {
  const account = snapshot.account.id;
  const byIdentity = new Map<string, KnownKey[]>();
  for (const k of known) {
    const id = userIdentity(k.userArn, k.userCreated);
    byIdentity.set(id, [...(byIdentity.get(id) ?? []), k]);
  }
  const keysOf = new Map<string, AccessKey[]>();
  // Keys read through the API already have their ids.
  for (const k of snapshot.keys) if (!k.keyId) keysOf.set(k.user, [...(keysOf.get(k.user) ?? []), k]);

  const changes: KnownKeysChange[] = [];
  const held = new Set<string>();
  const toList: (ReportUser & { created: Date })[] = [];
  for (const u of snapshot.users) {
    const keys = keysOf.get(u.name);
    if (!keys?.length) continue;
    const user: ReportUser = { name: u.name, arn: u.arn ?? "", created: u.createDate, keys };
    if (!user.created || !user.arn) {
      for (const k of keys) k.matchNote = `the report gives no ARN or creation time for ${u.name}`;
      continue;
    }
    const mine = byIdentity.get(userIdentity(user.arn, user.created)) ?? [];
    const matched = matchKnown(user, mine);
    if (!matched) {
      toList.push({ ...user, created: user.created });
      continue;
    }
    // The newer of the report and the last sighting says the key's status.
    const sightingIsNewer =
      opts.reportTime !== undefined && mine.some((m) => Date.parse(m.listedAt) > opts.reportTime!.getTime());
    for (const [k, hit] of matched) {
      k.keyId = hit.keyId;
      held.add(hit.keyId);
      if (sightingIsNewer) k.status = hit.status;
      const used = hit.used || Boolean(k.lastUsed);
      if (used !== hit.used || (!sightingIsNewer && k.status !== hit.status))
        changes.push({ upsert: [{ ...hit, status: k.status, used }], remove: [] });
    }
    // Known keys of this user that a newer report no longer shows were deleted.
    changes.push({ upsert: [], remove: staleKnown(mine, held, opts.reportTime) });
  }

  const limit = pLimit(opts.concurrency);
  await Promise.all(
    toList.map((user) =>
      limit(async () => {
        const previous = known.filter((k) => k.user === user.name || k.userArn === user.arn);
        let listed: ListedKey[];
        try {
          listed = (await listUserKeys(iam, user.name)).flatMap((m) =>
            m.AccessKeyId && m.CreateDate
              ? [
                  {
                    keyId: m.AccessKeyId,
                    status: m.Status === "Active" ? "Active" : "Inactive",
                    created: m.CreateDate,
                  },
                ]
              : [],
          );
        } catch (e) {
          const note = isNoSuchEntity(e)
            ? `user ${user.name} no longer exists`
            : `ListAccessKeys failed: ${describeAwsError(e)}`;
          for (const k of user.keys) k.matchNote = note;
          return;
        }
        const listedAt = new Date();
        matchListed(user.name, user.keys, listed);
        for (const l of listed) held.add(l.keyId);
        // The listing is the truth about this user now: remember it whole, forget the rest.
        changes.push({
          upsert: listedRows(account, user, listed, previous, listedAt),
          remove: previous.filter((p) => !listed.some((l) => l.keyId === p.keyId)).map((p) => p.keyId),
        });
      }),
    ),
  );
  // Users the report no longer shows (deleted, or recreated under another identity).
  changes.push({ upsert: [], remove: staleKnown(known, held, opts.reportTime) });
  return mergeChanges(changes);
}
