import type { ActionContext } from "../../../src/actions/remediate/types.js";
import type { AccountClients } from "../../../src/cloud/aws/account-clients.js";
import { accountClients } from "../../../src/cloud/aws/account-clients.js";
import type { Config } from "../../../src/config/schema.js";
import { findingId } from "../../../src/engine/reconcile.js";
import { routerFromConfig } from "../../../src/engine/routing.js";
import type { Finding } from "../../../src/model/finding.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import type { Store } from "../../../src/store/store.js";
import { emulatorConfig, useFakeAwsCredentials } from "../../sources/aws/setup.js";
import {
  addAccessKey,
  addAccount,
  addRole,
  addUser,
  createState,
  type EmulatorOptions,
  type EmuState,
  type IamEmulator,
  startIamEmulator,
} from "../../support/iam-emulator/index.js";
import { type WriteOpsOptions, writeOps } from "../../support/iam-emulator/write-ops.js";

// A remediation test bench: the IAM emulator (read and write operations) behind the real SDK
// clients, reached by assuming a role in the target account, and an in-memory SQLite store.

export const ACCT = "123456789012";
export const ROLE = "iamwarden-remediate";
export const NOW = new Date("2026-06-01T12:00:00.000Z");
/** Read-back without slow waits. */
export const FAST_VERIFY = { attempts: 5, delayMs: 5 };

export interface Bench {
  emu: IamEmulator;
  state: EmuState;
  config: Config;
  store: Store;
  clientsFor(account: string): Promise<AccountClients>;
  ctx(over?: Partial<ActionContext>): Promise<ActionContext>;
  close(): Promise<void>;
}

export async function bench(
  opts: {
    write?: WriteOpsOptions;
    emulator?: Partial<EmulatorOptions>;
    config?: Record<string, unknown>;
  } = {},
): Promise<Bench> {
  useFakeAwsCredentials();
  const state = createState();
  addAccount(state, { id: ACCT, name: "prod" });
  addRole(state, ACCT, { name: ROLE });
  const emu = await startIamEmulator({ state, operations: writeOps(opts.write), ...opts.emulator });
  const config = emulatorConfig(emu.url, {
    aws: { maxAttempts: 3 },
    accounts: [{ id: ACCT, alias: "prod", roleName: ROLE }],
    checks: {
      "iam-change": { adminGroup: "admins", adminUsers: ["alice.admin"] },
    },
    notify: { slack: { token: "xoxb-test", channel: "#iam" } },
    ...opts.config,
    remediation: {
      accounts: [ACCT],
      "key-inactive": { enabled: true, graceDays: 14 },
      "key-age": { enabled: true, graceDays: 0 },
      maxPerRun: 20,
      maxShare: 1,
      quarantine: { breakGlassUsers: ["break.glass"] },
      ...(opts.config?.remediation as object | undefined),
    },
  });
  const store = openSqliteStore(":memory:");
  const clientsFor = accountClients(config);
  return {
    emu,
    state,
    config,
    store,
    clientsFor,
    async ctx(over = {}) {
      const c = await clientsFor(ACCT);
      return {
        iam: c.iam,
        partition: c.partition,
        store,
        account: ACCT,
        runId: "run-test",
        actor: "tester",
        now: NOW,
        verify: FAST_VERIFY,
        ...over,
      };
    },
    async close() {
      await store.close();
      await emu.close();
    },
  };
}

export const route = (config: Config) => routerFromConfig(config.notify);

/** A user with one Active key in the emulator, and an open key-inactive finding about it. */
export async function userWithStaleKey(
  b: Bench,
  user: string,
  opts: { check?: "key-inactive" | "key-age"; firstReportedAt?: string; account?: string } = {},
): Promise<{ keyId: string; finding: Finding }> {
  const account = opts.account ?? ACCT;
  if (!b.state.accounts.get(account)) addAccount(b.state, { id: account });
  if (!b.state.accounts.get(account)!.users.has(user)) addUser(b.state, account, { name: user });
  const key = addAccessKey(b.state, account, user, {
    createDate: new Date("2025-01-01T00:00:00Z"),
    lastUsed: { date: new Date("2025-02-01T00:00:00Z"), service: "s3", region: "us-east-1" },
  });
  const check = opts.check ?? "key-inactive";
  const at = opts.firstReportedAt ?? "2026-05-01T00:00:00.000Z";
  const finding: Finding = {
    id: findingId(check, account, key.id),
    check,
    account,
    resource: key.id,
    owner: user,
    severity: check === "key-age" ? "high" : "medium",
    status: "open",
    title: `Access key of ${user}`,
    details: { username: user, keyId: key.id, ...(check === "key-age" ? { state: "expired" } : {}) },
    firstSeen: at,
    lastSeen: at,
    statusChangedAt: at,
    firstReportedAt: at,
    tickets: {},
  };
  await b.store.reconcile({ account, checks: [check] }, () => ({
    upserts: [finding],
    events: [],
    outbox: [],
  }));
  return { keyId: key.id, finding };
}

/** The emulator's key status, or "absent". */
export function keyStatus(b: Bench, user: string, keyId: string, account = ACCT): string {
  return (
    b.state.accounts
      .get(account)
      ?.users.get(user)
      ?.keys.find((k) => k.id === keyId)?.status ?? "absent"
  );
}
