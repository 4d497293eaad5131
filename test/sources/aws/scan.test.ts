import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsClientFactory } from "../../../src/cloud/aws/clients.js";
import { resolveTargets } from "../../../src/cloud/aws/targets.js";
import { noRoutes } from "../../../src/engine/routing.js";
import { scanAccounts } from "../../../src/engine/scan.js";
import { awsAccountReader } from "../../../src/sources/aws/reader.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import {
  addAccount,
  addRole,
  createState,
  type IamEmulator,
  seedUsers,
  startIamEmulator,
} from "../../support/iam-emulator/index.js";
import { emulatorConfig, useFakeAwsCredentials } from "./setup.js";

// Whole scans through the real SDK clients: assume-role into two accounts, one of which later
// denies access; the findings of the account that failed must stay as they were.

let emu: IamEmulator | undefined;
beforeAll(useFakeAwsCredentials);
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const A = "222222222222";
const B = "333333333333";

describe("scan of two accounts through assumed roles", () => {
  it("reads each account as its own role, and a denied account keeps its findings", async () => {
    const state = createState();
    for (const [id, prefix] of [
      [A, "a-"],
      [B, "b-"],
    ] as const) {
      addAccount(state, { id });
      seedUsers(state, id, { users: 40, seed: Number(id.slice(0, 3)), problemShare: 0.3, prefix });
    }
    addRole(state, A, { name: "iamwarden-audit" });
    addRole(state, B, { name: "iamwarden-audit", externalId: "ext-b" });
    emu = await startIamEmulator({ state });

    const config = emulatorConfig(emu.url, {
      aws: { mode: "api" },
      accounts: [
        { id: A, alias: "alpha", roleName: "iamwarden-audit" },
        { ids: [B], roleName: "iamwarden-audit", externalId: "ext-b" },
      ],
    });
    const factory = awsClientFactory(config.aws);
    const targets = await resolveTargets(config, factory);
    expect(targets.map((t) => t.roleArn)).toEqual([
      `arn:aws:iam::${A}:role/iamwarden-audit`,
      `arn:aws:iam::${B}:role/iamwarden-audit`,
    ]);
    const store = openSqliteStore(":memory:");
    const reader = awsAccountReader(config, factory);
    const scan = (runId: string) =>
      scanAccounts(targets, reader, config, { store, route: noRoutes, now: new Date(), runId });

    const first = await scan("run-1");
    expect(first.map((r) => r.ok)).toEqual([true, true]);
    expect(emu.calls.byAction.AssumeRole).toBe(2);
    const openIn = async (account: string) => store.listFindings({ status: ["open"], account: [account] });
    const openA = await openIn(A);
    const openB = await openIn(B);
    expect(openA.length).toBeGreaterThan(0);
    expect(openB.length).toBeGreaterThan(0);
    // Each account saw only its own users.
    expect(openA.every((f) => String(f.details.username).startsWith("a-"))).toBe(true);
    expect(openB.every((f) => String(f.details.username).startsWith("b-"))).toBe(true);
    expect(openA[0]?.accountAlias).toBe("alpha");

    // Account A deactivates every key; account B now denies the role.
    for (const u of state.accounts.get(A)!.users.values()) for (const k of u.keys) k.status = "Inactive";
    emu.options.accessDenied = [B];
    const second = await scan("run-2");
    expect(second[0]).toMatchObject({ ok: true });
    expect(second[1]).toMatchObject({ ok: false });
    expect(second[1]?.error).toMatch(/^access denied: the role lacks iam:ListUsers/);
    expect(await openIn(A)).toEqual([]);
    expect(second[0]?.summary.resolved).toBe(openA.length);
    // The failed account resolved nothing.
    expect((await openIn(B)).map((f) => f.id).sort()).toEqual(openB.map((f) => f.id).sort());
    // Sessions are cached: no new AssumeRole within the hour.
    expect(emu.calls.byAction.AssumeRole).toBe(2);
    await store.close();
  });
});
