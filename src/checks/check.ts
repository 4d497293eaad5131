import type { Candidate, CheckKind } from "../model/finding.js";
import type { AccessKey } from "../model/observations.js";

/** A pure judgement: observations and settings in, candidate findings out; time is passed in. */
export interface Check<Obs, Settings> {
  name: string;
  kind: CheckKind;
  run(observations: Obs, settings: Settings, now: Date): Candidate[];
}

/**
 * The resource a key finding is about. A key read from a credential report that could not be
 * matched to its id is named by user and creation time, which is what the report knows of it.
 */
export function keyResource(key: AccessKey): string {
  return key.keyId ?? `${key.user}#key${key.slot ?? "?"}@${key.createDate.toISOString()}`;
}

/** Details every key finding carries. */
export function keyDetails(key: AccessKey): Record<string, unknown> {
  return {
    username: key.user,
    userArn: key.userArn,
    keyId: key.keyId,
    keySlot: key.slot,
    createDate: key.createDate.toISOString(),
    lastUsed: key.lastUsed?.toISOString() ?? null,
    lastUsedService: key.lastUsedService ?? null,
    lastUsedRegion: key.lastUsedRegion ?? null,
    ...(key.matchNote ? { unmatched: key.matchNote } : {}),
  };
}
