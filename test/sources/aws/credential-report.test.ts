import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsClientFactory } from "../../../src/cloud/aws/clients.js";
import { noRoutes } from "../../../src/engine/routing.js";
import { scanAccounts } from "../../../src/engine/scan.js";
import { fetchCredentialReport } from "../../../src/sources/aws/credential-report.js";
import { awsAccountReader } from "../../../src/sources/aws/reader.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import { DAY_MS } from "../../../src/util/time.js";
import {
  addAccessKey,
  addUser,
  createState,
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
const fastPolls = { initialDelayMs: 20, maxDelayMs: 80 };

function readerFor(url: string, mode: "api" | "credential-report" | "auto") {
  const config = emulatorConfig(url, { aws: { mode } });
  return { config, reader: awsAccountReader(config, awsClientFactory(config.aws), { report: fastPolls }) };
}

describe("credential report read", () => {
  it("waits through LimitExceeded and STARTED/INPROGRESS, then reuses the fresh report", async () => {
    const state = createState();
    const seeded = seedUsers(state, HOME, { users: 40, seed: 11 });
    const acct = state.accounts.get(HOME)!;
    acct.rootKeys.push({ active: true, createDate: new Date("2019-05-01T00:00:00Z") });
    acct.reportLimitExceeded = 1;
    emu = await startIamEmulator({ state, reportDelayMs: 250 });
    const { reader } = readerFor(emu.url, "credential-report");

    const snap = await reader.read(target);
    // LimitExceeded, then STARTED; then the report itself is asked for until it is ready.
    expect(emu.calls.byAction.GenerateCredentialReport).toBe(2);
    expect(emu.calls.byAction.GetCredentialReport).toBeGreaterThanOrEqual(1);
    expect(emu.calls.byAction.ListUsers).toBeUndefined();
    expect(snap).toMatchObject({
      source: "credential-report",
      complete: true,
      account: { id: HOME, alias: "home" },
    });
    expect(snap.users).toHaveLength(40);
    expect(snap.keys).toHaveLength(seeded.keys);
    // Every key carries its id (no store here: each user with a key is listed).
    const ids = new Set([...acct.users.values()].flatMap((u) => u.keys.map((k) => k.id)));
    expect(snap.keys.every((k) => k.keyId && ids.has(k.keyId))).toBe(true);
    expect(snap.root).toEqual([{ slot: 1, active: true, lastRotated: new Date("2019-05-01T00:00:00Z") }]);
    // A name with a comma survives the CSV round trip.
    expect(snap.users.some((u) => u.name.includes(","))).toBe(true);

    emu.calls.reset();
    await reader.read(target);
    expect(emu.calls.byAction.GenerateCredentialReport).toBe(1);
    expect(emu.calls.byAction.GetCredentialReport).toBe(1);
  });

  it("gives up after its timeout", async () => {
    emu = await startIamEmulator({ reportDelayMs: 60_000 });
    const { config } = readerFor(emu.url, "credential-report");
    await expect(
      fetchCredentialReport(awsClientFactory(config.aws).home.iam, { ...fastPolls, timeoutMs: 300 }),
    ).rejects.toMatchObject({ name: "CredentialReportTimeout" });
  });

  it("auto mode falls back to the API when the report is denied", async () => {
    const state = createState();
    seedUsers(state, HOME, { users: 5, seed: 2 });
    emu = await startIamEmulator({
      state,
      fault: (c) =>
        c.action === "GenerateCredentialReport"
          ? {
              code: "AccessDenied",
              message: "not authorized to perform iam:GenerateCredentialReport",
              status: 403,
            }
          : undefined,
    });
    const snap = await readerFor(emu.url, "auto").reader.read(target);
    expect(snap.source).toBe("api");
    expect(snap.complete).toBe(true);
    expect(snap.warnings[0]).toMatch(
      /^credential report unavailable \(access denied: .*iam:GenerateCredentialReport.*\); read through the IAM API/,
    );
  });

  it("lists the keys of users it has not seen, matches ids by creation time, never guessed", async () => {
    const now = new Date();
    const ago = (d: number) => new Date(now.getTime() - d * DAY_MS);
    const state = createState();
    seedUsers(state, HOME, { users: 30, seed: 4, problemShare: 0 });
    const stale = { date: ago(200), service: "s3", region: "us-east-1" };
    addUser(state, HOME, { name: "alice" });
    const aliceKey = addAccessKey(state, HOME, "alice", { createDate: ago(100), lastUsed: stale });
    addUser(state, HOME, { name: "bob" });
    const bobKey = addAccessKey(state, HOME, "bob", { createDate: ago(120), lastUsed: stale });
    addUser(state, HOME, { name: "carol" });
    addAccessKey(state, HOME, "carol", { createDate: ago(300) });
    addAccessKey(state, HOME, "carol", { createDate: ago(300) });
    addUser(state, HOME, { name: "dave" });
    const daveKey = addAccessKey(state, HOME, "dave", { createDate: ago(110), lastUsed: stale });

    emu = await startIamEmulator({
      state,
      reportDelayMs: 0,
      // Between the report and ListAccessKeys: bob rotates his key, dave deactivates his.
      fault: (c) => {
        if (c.action !== "ListAccessKeys") return undefined;
        const users = state.accounts.get(HOME)!.users;
        if (c.params.UserName === "bob" && users.get("bob")!.keys[0]?.id === bobKey.id) {
          users.get("bob")!.keys = [];
          addAccessKey(state, HOME, "bob", { createDate: now });
        }
        if (c.params.UserName === "dave") daveKey.status = "Inactive";
        return undefined;
      },
    });
    const withKeys = [...state.accounts.get(HOME)!.users.values()].filter((u) => u.keys.length).length;
    const { config, reader } = readerFor(emu.url, "credential-report");
    const store = openSqliteStore(":memory:");
    const [result] = await scanAccounts([target], reader, config, {
      store,
      route: noRoutes,
      now,
      runId: "run-1",
    });
    expect(result?.ok).toBe(true);
    // A first scan knows no key: one ListAccessKeys per user holding a key, nothing per key.
    expect(emu.calls.byAction.ListAccessKeys).toBe(withKeys);
    expect(emu.calls.byAction.ListUsers).toBeUndefined();
    expect(emu.calls.byAction.ListUserTags).toBeUndefined();
    expect(emu.calls.byAction.GetAccessKeyLastUsed).toBeUndefined();

    const findings = await store.listFindings({ status: ["open"] });
    // Key findings (user-unused judges users, and needs no key ids).
    const of = (user: string) =>
      findings.filter((f) => f.details.username === user && f.check !== "user-unused");
    expect(of("alice").map((f) => f.check)).toEqual(["key-inactive"]);
    expect(of("alice")[0]?.details.keyId).toBe(aliceKey.id);
    expect(of("alice")[0]?.details.unmatched).toBeUndefined();

    expect(of("bob")).toHaveLength(1);
    expect(of("bob")[0]?.details.keyId).toBeUndefined();
    expect(of("bob")[0]?.details.unmatched).toMatch(
      /^no key of bob created at .* is listed now: rotated or deleted/,
    );

    const carol = of("carol");
    expect(carol.length).toBeGreaterThanOrEqual(2);
    for (const f of carol) {
      expect(f.details.keyId).toBeUndefined();
      expect(f.details.unmatched).toMatch(
        /^2 keys of carol were created at .*: cannot tell which is key [12]$/,
      );
    }
    // The live status wins over the report's: dave's deactivated key raises nothing.
    expect(of("dave")).toEqual([]);
    await store.close();
  });
});
