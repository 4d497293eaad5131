import {
  type AccessKeyMetadata,
  GetAccessKeyLastUsedCommand,
  type IAMClient,
  paginateListAccessKeys,
  paginateListUsers,
} from "@aws-sdk/client-iam";
import pLimit from "p-limit";
import { describeAwsError, isAccessDenied, isNoSuchEntity } from "../../cloud/aws/errors.js";
import type { AccountTarget } from "../../cloud/target.js";
import type { KnownKey } from "../../model/known-key.js";
import type { AccessKey, AccountRef, AccountSnapshot, IamUser } from "../../model/observations.js";
import type { KnownKeysStore } from "../../store/known-keys.js";
import { maskKeyId } from "../../util/mask.js";
import { applyDirectory, type Directory, readDirectory, readUserTags } from "./directory.js";

// The api read of an account: the users with their tags, groups and policies in bulk
// (GetAccountAuthorizationDetails, or ListUsers where that is denied), ListAccessKeys per user,
// GetAccessKeyLastUsed per Active key. Throttling is the SDK's business (adaptive retry);
// concurrency within the account is bounded here. Root keys are not visible to these calls, so
// `root` stays undefined. Every key is listed, so the known keys are refreshed for free.

export interface ApiReadOptions {
  /** Concurrent calls within the account (config aws.concurrency). */
  concurrency: number;
  /** Remembers the key ids seen, for later credential-report reads. */
  knownKeys?: KnownKeysStore | undefined;
  /** The directory read already made (auto mode falling back), or why it is missing. */
  directory?: Directory | string | undefined;
}

/** Warnings kept per snapshot; the rest are counted, so that a bad day does not flood output. */
const MAX_WARNINGS = 20;

export function warningSink() {
  const list: string[] = [];
  let dropped = 0;
  return {
    add(msg: string) {
      if (list.length < MAX_WARNINGS) list.push(msg);
      else dropped++;
    },
    done(): string[] {
      return dropped ? [...list, `… and ${dropped} more warnings`] : list;
    },
  };
}

/** Every access key of one user (ListAccessKeys, paginated). */
export async function listUserKeys(iam: IAMClient, user: string): Promise<AccessKeyMetadata[]> {
  const keys: AccessKeyMetadata[] = [];
  for await (const page of paginateListAccessKeys({ client: iam }, { UserName: user })) {
    keys.push(...(page.AccessKeyMetadata ?? []));
  }
  return keys;
}

const known = (v: string | undefined) => (v && v !== "N/A" ? v : undefined);

/**
 * One user's keys with their last use, read through the API one call at a time: for the rare
 * user a credential report cannot name for sure.
 */
export async function readOneUser(iam: IAMClient, user: IamUser): Promise<AccessKey[]> {
  const keys: AccessKey[] = [];
  for (const meta of await listUserKeys(iam, user.name)) {
    if (!meta.AccessKeyId || !meta.CreateDate) continue;
    const key: AccessKey = {
      account: user.account,
      user: user.name,
      userArn: user.arn,
      keyId: meta.AccessKeyId,
      status: meta.Status === "Active" ? "Active" : "Inactive",
      createDate: meta.CreateDate,
    };
    if (key.status === "Active") {
      const used = (await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: meta.AccessKeyId })))
        .AccessKeyLastUsed;
      key.lastUsed = used?.LastUsedDate;
      key.lastUsedService = known(used?.ServiceName);
      key.lastUsedRegion = known(used?.Region);
    }
    keys.push(key);
  }
  return keys;
}

export async function readAccountViaApi(
  iam: IAMClient,
  target: AccountTarget,
  opts: ApiReadOptions,
): Promise<AccountSnapshot> {
  const account: AccountRef = { id: target.id, alias: target.alias };
  const warnings = warningSink();
  let complete = true;
  const partial = (msg: string) => {
    complete = false;
    warnings.add(msg);
  };

  // Any failure here fails the account: without the user list nothing can be judged.
  let dir = opts.directory;
  if (dir === undefined) {
    try {
      dir = await readDirectory(iam);
    } catch (e) {
      if (!isAccessDenied(e)) throw e;
      dir = `GetAccountAuthorizationDetails denied (${describeAwsError(e)}): users listed with ListUsers, tags read per user; groups and policies unknown`;
    }
  }
  const listed: IamUser[] = [];
  if (typeof dir === "string") {
    warnings.add(dir);
    for await (const page of paginateListUsers({ client: iam, pageSize: 1000 }, {})) {
      for (const u of page.Users ?? []) {
        if (u.UserName) listed.push({ account, name: u.UserName, arn: u.Arn, createDate: u.CreateDate });
      }
    }
  } else {
    for (const u of dir.users.values()) listed.push({ account, name: u.name, arn: u.arn });
    applyDirectory(listed, dir);
  }

  const limit = pLimit(opts.concurrency);
  const gone = new Set<string>();
  const listedAt = new Map<string, Date>();

  const readKey = async (user: IamUser, meta: AccessKeyMetadata): Promise<AccessKey | undefined> => {
    const keyId = meta.AccessKeyId;
    if (!keyId) return void partial(`ListAccessKeys ${user.name}: a key without AccessKeyId`);
    if (!meta.CreateDate)
      return void partial(`key ${maskKeyId(keyId)} of ${user.name} has no CreateDate; not judged`);
    const key: AccessKey = {
      account,
      user: user.name,
      userArn: user.arn,
      keyId,
      status: meta.Status === "Active" ? "Active" : "Inactive",
      createDate: meta.CreateDate,
    };
    // Only Active keys are judged, so only they need their last use.
    if (key.status !== "Active") return key;
    try {
      const r = await limit(() => iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: keyId })));
      const used = r.AccessKeyLastUsed;
      key.lastUsed = used?.LastUsedDate;
      key.lastUsedService = known(used?.ServiceName);
      key.lastUsedRegion = known(used?.Region);
      return key;
    } catch (e) {
      if (isNoSuchEntity(e)) {
        warnings.add(`key ${maskKeyId(keyId)} of ${user.name} was deleted during the scan; skipped`);
        return undefined;
      }
      // Judging it without its last use would call a busy key unused: leave it out, incomplete.
      return void partial(`GetAccessKeyLastUsed ${maskKeyId(keyId)} of ${user.name}: ${describeAwsError(e)}`);
    }
  };

  const perUser = await Promise.all(
    listed.map(async (user) => {
      let metas: AccessKeyMetadata[];
      try {
        metas = await limit(() => listUserKeys(iam, user.name));
        listedAt.set(user.name, new Date());
      } catch (e) {
        if (isNoSuchEntity(e)) {
          // Deleted between ListUsers and now: it has no keys any more, which is what we record.
          gone.add(user.name);
          warnings.add(`user ${user.name} was deleted during the scan; skipped`);
        } else partial(`ListAccessKeys ${user.name}: ${describeAwsError(e)}`);
        return [];
      }
      const keys = await Promise.all(metas.map((m) => readKey(user, m)));
      return keys.filter((k): k is AccessKey => k !== undefined);
    }),
  );

  const users = listed.filter((u) => !gone.has(u.name));
  const keys = perUser.flat();
  if (typeof dir === "string") {
    const judged = new Set(keys.filter((k) => k.status === "Active").map((k) => k.user));
    await readUserTags(
      iam,
      users.filter((u) => judged.has(u.name)),
      opts.concurrency,
    );
  }
  if (opts.knownKeys) {
    const known = await opts.knownKeys.knownKeys(account.id);
    const rows = knownRows(account.id, users, keys, known, listedAt);
    const seen = new Set(rows.map((r) => r.keyId));
    // Only a complete read shows that a key is gone.
    const remove = complete ? known.filter((k) => !seen.has(k.keyId)).map((k) => k.keyId) : [];
    await opts.knownKeys.saveKnownKeys(account.id, { upsert: rows, remove });
  }
  return {
    account,
    source: "api",
    users,
    keys,
    ...(typeof dir === "string" ? {} : { groups: dir.groups }),
    complete,
    warnings: warnings.done(),
  };
}

/** Known-key rows for every key listed (users without ARN or creation time cannot be filed). */
function knownRows(
  account: string,
  users: IamUser[],
  keys: AccessKey[],
  known: KnownKey[],
  listedAt: Map<string, Date>,
): KnownKey[] {
  const byName = new Map(users.map((u) => [u.name, u]));
  const before = new Map(known.map((k) => [k.keyId, k]));
  return keys.flatMap((k): KnownKey[] => {
    const u = byName.get(k.user);
    const at = listedAt.get(k.user);
    if (!k.keyId || !u?.arn || !u.createDate || !at) return [];
    return [
      {
        account,
        keyId: k.keyId,
        user: u.name,
        userArn: u.arn,
        userCreated: u.createDate.toISOString(),
        created: k.createDate.toISOString(),
        status: k.status,
        // Inactive keys are not asked their last use: keep what was known.
        used: Boolean(k.lastUsed) || Boolean(before.get(k.keyId)?.used),
        listedAt: at.toISOString(),
      },
    ];
  });
}
