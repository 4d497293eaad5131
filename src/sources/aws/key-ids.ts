import type { KnownKey, KnownKeysChange } from "../../model/known-key.js";
import type { AccessKey } from "../../model/observations.js";

// Giving credential-report keys their ids. The report has every key's creation time (to the
// second), status and last use, but no id. Ids come from the keys already known for the same
// user (same ARN and creation time, so a user recreated under the same name is another user)
// and, only where that cannot be sure, from ListAccessKeys. Never a guess: a key that matches no
// listed key or several keeps no id and says why.

/** A key as ListAccessKeys shows it. */
export interface ListedKey {
  keyId: string;
  status: "Active" | "Inactive";
  created: Date;
}

/** One report user and its keys. */
export interface ReportUser {
  name: string;
  arn: string;
  /** user_creation_time; without it the known keys cannot be tied to this user. */
  created?: Date | undefined;
  keys: AccessKey[];
}

/**
 * How long after its creation a key must have been seen for a sighting to rule out a key
 * deleted and recreated within the same second: a whole second, plus the clock difference
 * between this machine and AWS (SigV4 refuses more than 5 minutes).
 */
export const SETTLED_MS = 5 * 60_000 + 1000;

const second = (d: Date | string) => Math.floor(new Date(d).getTime() / 1000);
const isoSecond = (d: Date) => d.toISOString().replace(".000Z", "Z");

/** The identity known keys are filed under: user ARN and creation time. */
export const userIdentity = (arn: string, created: Date | string) =>
  `${arn}@${new Date(created).toISOString()}`;

/**
 * The known key of each report key of one user, or undefined when the user must be listed: a
 * creation time not seen before (a new or rotated key), two keys in one second, a sighting too
 * close to the key's creation, or a report that says "never used" of a key known to be used.
 */
export function matchKnown(user: ReportUser, known: KnownKey[]): Map<AccessKey, KnownKey> | undefined {
  const out = new Map<AccessKey, KnownKey>();
  for (const k of user.keys) {
    const s = second(k.createDate);
    if (user.keys.filter((x) => second(x.createDate) === s).length > 1) return undefined;
    const same = known.filter((x) => second(x.created) === s);
    const hit = same[0];
    if (same.length !== 1 || !hit) return undefined;
    if (Date.parse(hit.listedAt) < k.createDate.getTime() + SETTLED_MS) return undefined;
    if (hit.used && !k.lastUsed) return undefined;
    out.set(k, hit);
  }
  return out;
}

/**
 * Sets ids from a live listing, matched by creation second; the listing's status wins, as it is
 * newer than the report. A key matching no listed key or several keeps no id, with a note.
 */
export function matchListed(user: string, keys: AccessKey[], listed: ListedKey[]): void {
  for (const k of keys) {
    const s = second(k.createDate);
    const when = isoSecond(k.createDate);
    const same = listed.filter((m) => second(m.created) === s);
    const twins = keys.filter((x) => second(x.createDate) === s).length;
    const match = same[0];
    if (same.length === 1 && twins === 1 && match) {
      k.keyId = match.keyId;
      k.status = match.status;
      k.matchNote = undefined;
    } else if (!same.length) {
      k.matchNote = `no key of ${user} created at ${when} is listed now: rotated or deleted since the report`;
    } else {
      k.matchNote = `${Math.max(same.length, twins)} keys of ${user} were created at ${when}: cannot tell which is key ${k.slot ?? "?"}`;
    }
  }
}

/** Known-key rows for a user's fresh listing; `used` carries over what the report or cache knew. */
export function listedRows(
  account: string,
  user: ReportUser & { created: Date },
  listed: ListedKey[],
  previous: KnownKey[],
  listedAt: Date,
): KnownKey[] {
  return listed.map((l) => {
    const reported = user.keys.find((k) => k.keyId === l.keyId);
    const before = previous.find((p) => p.keyId === l.keyId);
    return {
      account,
      keyId: l.keyId,
      user: user.name,
      userArn: user.arn,
      userCreated: user.created.toISOString(),
      created: l.created.toISOString(),
      status: l.status,
      used: Boolean(reported?.lastUsed) || Boolean(before?.used),
      listedAt: listedAt.toISOString(),
    };
  });
}

/**
 * Known keys that a report newer than their last sighting no longer shows (deleted keys,
 * deleted users, earlier users of a recreated name). Keys seen after the report was made stay:
 * the report cannot know them yet.
 */
export function staleKnown(
  known: KnownKey[],
  stillHeld: Set<string>,
  reportTime: Date | undefined,
): string[] {
  if (!reportTime) return [];
  return known
    .filter((k) => !stillHeld.has(k.keyId) && Date.parse(k.listedAt) < reportTime.getTime())
    .map((k) => k.keyId);
}

/** Merges changes so that a key id is either upserted once or removed. */
export function mergeChanges(changes: KnownKeysChange[]): KnownKeysChange {
  const upsert = new Map<string, KnownKey>();
  const remove = new Set<string>();
  for (const c of changes) {
    for (const id of c.remove) remove.add(id);
    for (const k of c.upsert) upsert.set(k.keyId, k);
  }
  for (const id of upsert.keys()) remove.delete(id);
  return { upsert: [...upsert.values()], remove: [...remove] };
}
