import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsClientFactory } from "../../../src/cloud/aws/clients.js";
import { readAccountViaApi } from "../../../src/sources/aws/iam-api.js";
import {
  addAccessKey,
  addUser,
  createState,
  type EmuState,
  type IamEmulator,
  seedUsers,
  startIamEmulator,
} from "../../support/iam-emulator/index.js";
import { emulatorConfig, useFakeAwsCredentials } from "./setup.js";

let emu: IamEmulator | undefined;
beforeAll(useFakeAwsCredentials);
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const HOME = "111111111111";
const target = { id: HOME, alias: "home" };

function iamFor(url: string, aws: Record<string, unknown> = {}) {
  return awsClientFactory(emulatorConfig(url, { aws }).aws).home.iam;
}

function keyCount(state: EmuState) {
  let all = 0;
  let active = 0;
  for (const u of state.accounts.get(HOME)!.users.values())
    for (const k of u.keys) {
      all++;
      if (k.status === "Active") active++;
    }
  return { all, active };
}

describe("api read", () => {
  it("follows directory markers past 100 entities and asks last use of Active keys only", async () => {
    const state = createState();
    const seeded = seedUsers(state, HOME, { users: 250, seed: 7 });
    // IAM may return fewer items than MaxItems: the reader must follow IsTruncated/Marker.
    emu = await startIamEmulator({ state, pageCap: 100 });
    const snap = await readAccountViaApi(iamFor(emu.url), target, { concurrency: 8 });
    expect(snap.complete).toBe(true);
    expect(snap.source).toBe("api");
    expect(snap.root).toBeUndefined();
    expect(snap.users).toHaveLength(250);
    expect(snap.keys).toHaveLength(seeded.keys);
    // 250 users and 4 groups, 100 a page: tags, groups and policies come with them.
    expect(emu.calls.byAction.GetAccountAuthorizationDetails).toBe(3);
    expect(emu.calls.byAction.ListUsers).toBeUndefined();
    expect(emu.calls.byAction.ListUserTags).toBeUndefined();
    const tagged = [...state.accounts.get(HOME)!.users.values()].filter((u) => u.tags.length);
    expect(tagged.length).toBeGreaterThan(0);
    for (const u of tagged)
      expect(snap.users.find((x) => x.name === u.name)?.tags).toEqual(
        Object.fromEntries(u.tags.map((t) => [t.Key, t.Value])),
      );
    expect(emu.calls.byAction.ListAccessKeys).toBe(250);
    expect(emu.calls.byAction.GetAccessKeyLastUsed).toBe(keyCount(state).active);
    expect(snap.account).toEqual({ id: HOME, alias: "home" });
  });

  it("maps last use, and leaves it empty for a key never used", async () => {
    const state = createState();
    addUser(state, HOME, { name: "alice" });
    const used = addAccessKey(state, HOME, "alice", {
      createDate: new Date("2024-01-01T10:00:00Z"),
      lastUsed: { date: new Date("2024-03-01T12:00:00Z"), service: "s3", region: "eu-west-1" },
    });
    const never = addAccessKey(state, HOME, "alice", { createDate: new Date("2024-02-01T10:00:00Z") });
    addAccessKey(state, HOME, "alice", { createDate: new Date("2023-01-01T00:00:00Z"), status: "Inactive" });
    emu = await startIamEmulator({ state });
    const snap = await readAccountViaApi(iamFor(emu.url), target, { concurrency: 2 });
    const byId = new Map(snap.keys.map((k) => [k.keyId, k]));
    expect(byId.get(used.id)).toMatchObject({
      user: "alice",
      status: "Active",
      createDate: new Date("2024-01-01T10:00:00Z"),
      lastUsed: new Date("2024-03-01T12:00:00Z"),
      lastUsedService: "s3",
      lastUsedRegion: "eu-west-1",
    });
    expect(byId.get(never.id)?.lastUsed).toBeUndefined();
    expect(byId.get(never.id)?.lastUsedService).toBeUndefined();
    expect(snap.keys.filter((k) => k.status === "Inactive")).toHaveLength(1);
    expect(emu.calls.byAction.GetAccessKeyLastUsed).toBe(2);
  });

  it("recovers from Throttling through the SDK's adaptive retry", async () => {
    const state = createState();
    const seeded = seedUsers(state, HOME, { users: 20, seed: 3 });
    emu = await startIamEmulator({ state, rateLimit: 40, burst: 5 });
    const snap = await readAccountViaApi(iamFor(emu.url, { maxAttempts: 10 }), target, { concurrency: 8 });
    expect(emu.calls.throttled).toBeGreaterThan(0);
    expect(snap.complete).toBe(true);
    expect(snap.warnings).toEqual([]);
    expect(snap.keys).toHaveLength(seeded.keys);
  });

  it("skips a user deleted between ListUsers and ListAccessKeys, and stays complete", async () => {
    const state = createState();
    seedUsers(state, HOME, { users: 10, seed: 5 });
    addUser(state, HOME, { name: "leaver" });
    addAccessKey(state, HOME, "leaver", { createDate: new Date("2020-01-01T00:00:00Z") });
    emu = await startIamEmulator({
      state,
      fault: (call) => {
        if (call.action === "ListAccessKeys" && call.params.UserName === "leaver") {
          state.accounts.get(HOME)!.users.delete("leaver");
          return { code: "NoSuchEntity", message: "The user with name leaver cannot be found.", status: 404 };
        }
        return undefined;
      },
    });
    const snap = await readAccountViaApi(iamFor(emu.url), target, { concurrency: 4 });
    expect(snap.complete).toBe(true);
    expect(snap.users.map((u) => u.name)).not.toContain("leaver");
    expect(snap.keys.some((k) => k.user === "leaver")).toBe(false);
    expect(snap.warnings).toEqual(["user leaver was deleted during the scan; skipped"]);
  });

  it("marks the read incomplete when a key's last use cannot be read, and masks its id", async () => {
    const state = createState();
    addUser(state, HOME, { name: "bob" });
    const key = addAccessKey(state, HOME, "bob", { createDate: new Date("2024-01-01T00:00:00Z") });
    emu = await startIamEmulator({
      state,
      fault: (call) =>
        call.action === "GetAccessKeyLastUsed"
          ? {
              code: "AccessDenied",
              message: "not authorized to perform iam:GetAccessKeyLastUsed",
              status: 403,
            }
          : undefined,
    });
    const snap = await readAccountViaApi(iamFor(emu.url), target, { concurrency: 4 });
    expect(snap.complete).toBe(false);
    // Left out rather than judged as never used.
    expect(snap.keys).toEqual([]);
    expect(snap.warnings).toHaveLength(1);
    expect(snap.warnings[0]).toMatch(/access denied: .*iam:GetAccessKeyLastUsed/);
    expect(snap.warnings[0]).not.toContain(key.id);
    expect(snap.warnings[0]).toContain(key.id.slice(-4));
  });

  it("fails the whole read when ListUsers is denied", async () => {
    emu = await startIamEmulator({ accessDenied: [HOME] });
    await expect(readAccountViaApi(iamFor(emu.url), target, { concurrency: 4 })).rejects.toMatchObject({
      name: "AccessDenied",
    });
  });
});
