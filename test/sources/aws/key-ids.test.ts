import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsClientFactory } from "../../../src/cloud/aws/clients.js";
import type { AccessKey, AccountSnapshot } from "../../../src/model/observations.js";
import { influxLines } from "../../../src/outputs/influx.js";
import { awsAccountReader } from "../../../src/sources/aws/reader.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import type { Store } from "../../../src/store/store.js";
import { DAY_MS } from "../../../src/util/time.js";
import {
  addAccessKey,
  addGroup,
  addUser,
  addUserToGroup,
  createState,
  type EmuState,
  type IamEmulator,
  seedUsers,
  startIamEmulator,
} from "../../support/iam-emulator/index.js";
import { emulatorConfig, useFakeAwsCredentials } from "./setup.js";

// Key ids of credential-report keys come from the keys the store already knows, and from
// ListAccessKeys only where that cannot be sure. These tests try to make the known keys attach a
// wrong id, and count what each scan asks of IAM.

let emu: IamEmulator | undefined;
let store: Store | undefined;
beforeAll(useFakeAwsCredentials);
afterEach(async () => {
  await emu?.close();
  await store?.close();
  emu = undefined;
  store = undefined;
});

const HOME = "111111111111";
const target = { id: HOME, alias: "home" };
const now = new Date();
const ago = (days: number) => new Date(now.getTime() - days * DAY_MS);
const used = (days: number) => ({ date: ago(days), service: "s3", region: "us-east-1" });

async function start(state: EmuState) {
  emu = await startIamEmulator({ state, reportDelayMs: 0 });
  store = openSqliteStore(":memory:");
  const reader = (mode: "api" | "credential-report") => {
    const config = emulatorConfig(emu!.url, { aws: { mode } });
    return awsAccountReader(config, awsClientFactory(config.aws), { report: { initialDelayMs: 10 } });
  };
  const scan = async (mode: "api" | "credential-report" = "credential-report") => {
    emu!.calls.reset();
    const snap = await reader(mode).read(target, { knownKeys: store });
    return { snap, calls: { ...emu!.calls.byAction } };
  };
  return { scan, acct: state.accounts.get(HOME)! };
}

/** AWS makes a new report once the old one is gone. */
const newReport = (state: EmuState) => {
  state.accounts.get(HOME)!.report = undefined;
};

const keysOf = (snap: AccountSnapshot, user: string): AccessKey[] => snap.keys.filter((k) => k.user === user);

function deleteKeys(state: EmuState, user: string) {
  state.accounts.get(HOME)!.users.get(user)!.keys = [];
}

describe("key ids of credential-report keys", () => {
  it("a second scan costs the report and one directory page, and every key keeps its id", async () => {
    const state = createState();
    seedUsers(state, HOME, { users: 60, seed: 8, problemShare: 0.5, now });
    const { scan, acct } = await start(state);
    const ids = new Map([...acct.users.values()].flatMap((u) => u.keys.map((k) => [k.id, u.name] as const)));
    const withKeys = [...acct.users.values()].filter((u) => u.keys.length).length;

    const first = await scan();
    expect(first.calls.ListAccessKeys).toBe(withKeys);
    expect(first.snap.keys).toHaveLength(ids.size);
    for (const k of first.snap.keys) expect(ids.get(k.keyId ?? "")).toBe(k.user);

    const second = await scan();
    expect(second.calls).toEqual({
      GenerateCredentialReport: 1,
      GetCredentialReport: 1,
      GetAccountAuthorizationDetails: 1,
    });
    expect(second.snap.keys.map((k) => k.keyId)).toEqual(first.snap.keys.map((k) => k.keyId));

    // One user rotates a key: the next report shows a creation time not seen, so that user is
    // listed, and only that user.
    const rotating = [...acct.users.values()].find((u) => u.keys.length === 1)!;
    deleteKeys(state, rotating.name);
    const fresh = addAccessKey(state, HOME, rotating.name, { createDate: ago(1) });
    newReport(state);
    const third = await scan();
    expect(third.calls.ListAccessKeys).toBe(1);
    expect(keysOf(third.snap, rotating.name).map((k) => k.keyId)).toEqual([fresh.id]);
  });

  it("never gives the old id to a key deleted and recreated within the same second", async () => {
    const state = createState();
    addUser(state, HOME, { name: "alice" });
    // Created this very second and seen at once: a replacement within the second would look the same.
    const first = addAccessKey(state, HOME, "alice", { createDate: now });
    const { scan } = await start(state);
    expect(keysOf((await scan()).snap, "alice")[0]?.keyId).toBe(first.id);

    deleteKeys(state, "alice");
    const again = addAccessKey(state, HOME, "alice", { createDate: now });
    newReport(state);
    const after = await scan();
    expect(after.calls.ListAccessKeys).toBe(1);
    expect(keysOf(after.snap, "alice").map((k) => k.keyId)).toEqual([again.id]);
  });

  it("never gives a used key's id to a key of the same second that the report calls never used", async () => {
    const state = createState();
    addUser(state, HOME, { name: "erin" });
    const old = addAccessKey(state, HOME, "erin", { createDate: ago(50), lastUsed: used(2) });
    const { scan } = await start(state);
    expect(keysOf((await scan()).snap, "erin")[0]?.keyId).toBe(old.id);

    // Not possible with AWS's clock, but nothing in the report would tell it: the use does.
    deleteKeys(state, "erin");
    const replaced = addAccessKey(state, HOME, "erin", { createDate: ago(50) });
    newReport(state);
    const after = await scan();
    expect(after.calls.ListAccessKeys).toBe(1);
    expect(keysOf(after.snap, "erin").map((k) => k.keyId)).toEqual([replaced.id]);
  });

  it("gives no id to two keys created in the same second, on every scan", async () => {
    const state = createState();
    addUser(state, HOME, { name: "carol" });
    addAccessKey(state, HOME, "carol", { createDate: ago(300), lastUsed: used(200) });
    addAccessKey(state, HOME, "carol", { createDate: ago(300) });
    addUser(state, HOME, { name: "dan" });
    const dan = addAccessKey(state, HOME, "dan", { createDate: ago(20) });
    const { scan } = await start(state);
    for (const round of [1, 2]) {
      const { snap, calls } = await scan();
      const carol = keysOf(snap, "carol");
      expect(carol).toHaveLength(2);
      for (const k of carol) {
        expect(k.keyId).toBeUndefined();
        expect(k.matchNote).toMatch(/^2 keys of carol were created at .*: cannot tell which is key [12]$/);
      }
      expect(keysOf(snap, "dan")[0]?.keyId).toBe(dan.id);
      // Carol is asked again each time (her keys cannot be told apart); dan only the first time.
      expect(calls.ListAccessKeys).toBe(round === 1 ? 2 : 1);
    }
  });

  it("treats a user deleted and recreated under the same name as another user", async () => {
    const state = createState();
    addUser(state, HOME, { name: "bob", createDate: ago(900) });
    const created = ago(400);
    const old = addAccessKey(state, HOME, "bob", { createDate: created, lastUsed: used(10) });
    const { scan, acct } = await start(state);
    expect(keysOf((await scan()).snap, "bob")[0]?.keyId).toBe(old.id);

    acct.users.delete("bob");
    addUser(state, HOME, { name: "bob", createDate: ago(1) });
    // The worst case: the new user's key has the very creation time of the old one's.
    const other = addAccessKey(state, HOME, "bob", { createDate: created, lastUsed: used(0) });
    newReport(state);
    const after = await scan();
    expect(after.calls.ListAccessKeys).toBe(1);
    expect(keysOf(after.snap, "bob").map((k) => k.keyId)).toEqual([other.id]);
    expect(await store!.knownKeys(HOME)).toEqual([
      expect.objectContaining({ keyId: other.id, userCreated: toSecondIso(ago(1)) }),
    ]);
  });

  it("lets a sighting newer than the report decide, and never attaches a key the user no longer holds", async () => {
    const state = createState();
    addUser(state, HOME, { name: "dave" });
    const daves = addAccessKey(state, HOME, "dave", { createDate: ago(200), lastUsed: used(150) });
    addUser(state, HOME, { name: "frank" });
    addAccessKey(state, HOME, "frank", { createDate: ago(100), lastUsed: used(1) });
    const { scan } = await start(state);
    await scan();

    // After the report was made: dave deactivates his key, frank rotates his. An api read (which
    // lists every user) sees both; the report, still fresh for AWS, does not.
    daves.status = "Inactive";
    deleteKeys(state, "frank");
    const franks = addAccessKey(state, HOME, "frank", { createDate: ago(0.5) });
    await scan("api");
    const stale = await scan();
    expect(stale.snap.keys.find((k) => k.user === "dave")).toMatchObject({
      keyId: daves.id,
      status: "Inactive",
    });
    // The report shows frank's old key; he no longer holds it: no id, and a note saying why.
    const frank = keysOf(stale.snap, "frank");
    expect(frank).toHaveLength(1);
    expect(frank[0]?.keyId).toBeUndefined();
    expect(frank[0]?.matchNote).toMatch(/^no key of frank created at .* is listed now: rotated or deleted/);
    // The newer key stays known for the next report.
    expect((await store!.knownKeys(HOME)).map((k) => k.keyId)).toContain(franks.id);
  });

  it("shows the real key id in the Influx output of every key, in both modes", async () => {
    const state = createState();
    seedUsers(state, HOME, { users: 30, seed: 21, problemShare: 0.3, now });
    const { scan, acct } = await start(state);
    const tails = new Set([...acct.users.values()].flatMap((u) => u.keys.map((k) => k.id.slice(-5))));
    for (const mode of ["credential-report", "api"] as const) {
      const { snap } = await scan(mode);
      const lines = influxLines(snap.keys, { expireDays: 180, warnDays: 15 }, now).trim().split("\n");
      expect(lines).toHaveLength(tails.size);
      for (const line of lines) expect(tails.has(/,key=([^,]+),/.exec(line)?.[1] ?? "")).toBe(true);
    }
  });
});

describe("users' tags, groups and policies", () => {
  const ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess";
  const IAM_FULL = "arn:aws:iam::aws:policy/IAMFullAccess";

  function admins(state: EmuState) {
    addGroup(state, HOME, { name: "admins" });
    state.accounts.get(HOME)!.groups.get("admins")!.attachedPolicies.push(ADMIN);
    addUser(state, HOME, { name: "root-ish", tags: { team: "platform" } });
    addUserToGroup(state, HOME, "root-ish", "admins");
    addAccessKey(state, HOME, "root-ish", { createDate: ago(10) });
    const iamAdmin = addUser(state, HOME, { name: "iam-admin" });
    iamAdmin.attachedPolicies.push(IAM_FULL);
    iamAdmin.inlinePolicies.ops = '{"Version":"2012-10-17","Statement":[]}';
    addAccessKey(state, HOME, "iam-admin", { createDate: ago(10), status: "Inactive" });
  }

  it("sets them on the snapshot from one bulk read, in both modes", async () => {
    const state = createState();
    admins(state);
    const { scan } = await start(state);
    for (const mode of ["credential-report", "api"] as const) {
      const { snap, calls } = await scan(mode);
      expect(calls.GetAccountAuthorizationDetails).toBe(1);
      expect(calls.ListUserTags).toBeUndefined();
      expect(calls.ListGroupsForUser).toBeUndefined();
      expect(snap.users.find((u) => u.name === "root-ish")).toMatchObject({
        tags: { team: "platform" },
        groups: ["admins"],
        attachedPolicies: [],
        groupPolicies: [ADMIN],
      });
      expect(snap.users.find((u) => u.name === "iam-admin")).toMatchObject({
        tags: {},
        groups: [],
        attachedPolicies: [IAM_FULL],
        groupPolicies: [],
        inlinePolicies: ["ops"],
      });
      expect(snap.groups).toContainEqual({
        name: "admins",
        arn: `arn:aws:iam::${HOME}:group/admins`,
        attachedPolicies: [ADMIN],
        inlinePolicies: [],
      });
      // The api read never asks an Inactive key's last use.
      if (mode === "api") expect(calls.GetAccessKeyLastUsed).toBe(1);
    }
  });

  it("reads tags per user with an Active key when the bulk read is denied, and says so", async () => {
    const state = createState();
    admins(state);
    emu = await startIamEmulator({
      state,
      reportDelayMs: 0,
      fault: (c) =>
        c.action === "GetAccountAuthorizationDetails"
          ? {
              code: "AccessDenied",
              message: "not authorized to perform iam:GetAccountAuthorizationDetails",
              status: 403,
            }
          : undefined,
    });
    for (const mode of ["credential-report", "api"] as const) {
      emu.calls.reset();
      const config = emulatorConfig(emu.url, { aws: { mode } });
      const snap = await awsAccountReader(config, awsClientFactory(config.aws)).read(target);
      expect(snap.complete).toBe(true);
      expect(
        snap.warnings.some((w) => w.startsWith("GetAccountAuthorizationDetails denied (access denied")),
      ).toBe(true);
      // Only root-ish has an Active key, so only root-ish can have a finding to exempt.
      expect(emu.calls.byAction.ListUserTags).toBe(1);
      expect(snap.users.find((u) => u.name === "root-ish")?.tags).toEqual({ team: "platform" });
    }
  });
});

function toSecondIso(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString();
}
