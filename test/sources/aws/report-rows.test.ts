import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsClientFactory } from "../../../src/cloud/aws/clients.js";
import { awsAccountReader } from "../../../src/sources/aws/reader.js";
import { parseCredentialReport, snapshotsFromReport } from "../../../src/sources/credential-report.js";
import {
  addAccessKey,
  addUser,
  createState,
  type IamEmulator,
  startIamEmulator,
} from "../../support/iam-emulator/index.js";
import { emulatorConfig, useFakeAwsCredentials } from "./setup.js";

// Credential report rows that are odd but must not blind the scan to the rest of the account:
// unquoted user names with commas, users of another account, duplicates, invalid UTF-8.

const HEADER =
  "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";
const ACCOUNT = "111111111111";
const ROOT = `<root_account>,arn:aws:iam::${ACCOUNT}:root,2020-01-01T00:00:00+00:00,not_supported,no_information,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`;
/** A user row as AWS writes it, fields unquoted. */
const row = (name: string, arn: string, keyCreated = "2025-01-01T10:20:30+00:00", account = ACCOUNT) =>
  `${name},${arn || `arn:aws:iam::${account}:user/${name}`},2021-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,${keyCreated},2025-12-01T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`;
const csv = (...lines: string[]) => [HEADER, ...lines].join("\n");

describe("credential report rows", () => {
  it("recovers an unquoted user name with commas when its ARN ends with it", () => {
    const rows = parseCredentialReport(
      csv(ROOT, row("alice", ""), row("ci+deploy,00013@example.com", ""), row("bob", "")),
      "r.csv",
    );
    const [snap] = snapshotsFromReport(rows);
    expect(snap?.users.map((u) => [u.name, u.arn])).toEqual([
      ["alice", `arn:aws:iam::${ACCOUNT}:user/alice`],
      ["ci+deploy,00013@example.com", `arn:aws:iam::${ACCOUNT}:user/ci+deploy,00013@example.com`],
      ["bob", `arn:aws:iam::${ACCOUNT}:user/bob`],
    ]);
    // The columns after the name sit where they should.
    expect(snap?.keys.map((k) => [k.user, k.createDate.toISOString(), k.lastUsedService])).toEqual([
      ["alice", "2025-01-01T10:20:30.000Z", "s3"],
      ["ci+deploy,00013@example.com", "2025-01-01T10:20:30.000Z", "s3"],
      ["bob", "2025-01-01T10:20:30.000Z", "s3"],
    ]);
    expect(snap?.complete).toBe(true);
    expect(snap?.warnings).toEqual([
      'r.csv:4: unquoted user name with commas, read as "ci+deploy,00013@example.com" (its ARN ends with it)',
    ]);
  });

  it("sets aside a row it cannot read, names it, and resolves nothing in that account", () => {
    // The ARN was cut short: no split of the fields gives a name the ARN ends with.
    const rows = parseCredentialReport(
      csv(ROOT, row("alice", ""), row("ci,bot", `arn:aws:iam::${ACCOUNT}:user/ci,x`)),
      "r.csv",
    );
    const [snap] = snapshotsFromReport(rows);
    expect(snap?.users.map((u) => u.name)).toEqual(["alice"]);
    expect(snap?.complete).toBe(false);
    expect(snap?.warnings).toEqual([
      'r.csv:4: unquoted row whose user name and ARN cannot be told apart (one of "ci", "ci,bot", "ci,bot,arn:aws:iam::111111111111:user/ci"); not judged from the report',
    ]);
  });

  it("names users of another account, duplicates and invalid UTF-8, and keeps the rest", () => {
    const broken = Buffer.concat([
      Buffer.from(
        `${csv(ROOT, row("alice", ""), row("mallory", "", undefined, "999999999999"), row("alice", ""))}\n`,
      ),
      Buffer.from("caf"),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(
        `,arn:aws:iam::${ACCOUNT}:user/caf\u00e9,2021-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n`,
      ),
    ]).toString("utf8");
    const snapshots = snapshotsFromReport(parseCredentialReport(broken, "r.csv"));
    expect(snapshots.map((s) => s.account.id)).toEqual([ACCOUNT]);
    const [snap] = snapshots;
    expect(snap?.users.map((u) => u.name)).toEqual(["alice", "caf\uFFFD("]);
    expect(snap?.keys).toHaveLength(1);
    expect(snap?.complete).toBe(true);
    expect(snap?.warnings).toEqual([
      'r.csv:4: user "mallory" belongs to account 999999999999, not 111111111111; ignored',
      'r.csv:5: user "alice" already appears on line 3; ignored',
      'r.csv:6: invalid UTF-8 (shown as \uFFFD) in the row of "caf\uFFFD("',
    ]);
  });

  it("still names the line of a row that is too short", () => {
    expect(() => parseCredentialReport(csv(ROOT, row("alice", "").slice(0, 60)), "r.csv")).toThrow(
      /^r\.csv:3: expected 22 columns, got \d+$/,
    );
  });
});

describe("credential report read of an account with odd rows", () => {
  let emu: IamEmulator | undefined;
  beforeAll(useFakeAwsCredentials);
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it("reads a user it cannot name from the report through the API, and says so", async () => {
    const state = createState();
    addUser(state, ACCOUNT, { name: "alice", createDate: new Date("2021-01-01T00:00:00Z") });
    const alices = addAccessKey(state, ACCOUNT, "alice", { createDate: new Date("2025-01-01T10:20:30Z") });
    addUser(state, ACCOUNT, { name: "ci,bot" });
    const bots = addAccessKey(state, ACCOUNT, "ci,bot", { createDate: new Date("2024-01-01T00:00:00Z") });
    emu = await startIamEmulator({ state, reportDelayMs: 0 });
    // The report as a damaged export would have it: unquoted, one ARN cut short, a stranger.
    const now = Date.now();
    state.accounts.get(ACCOUNT)!.report = {
      startedAt: now,
      readyAt: now,
      csv: csv(
        ROOT,
        row("alice", ""),
        row("ci,bot", `arn:aws:iam::${ACCOUNT}:user/ci,x`),
        row("mallory", "", undefined, "999999999999"),
      ),
    };
    const config = emulatorConfig(emu.url, { aws: { mode: "credential-report" } });
    const snap = await awsAccountReader(config, awsClientFactory(config.aws)).read({ id: ACCOUNT });
    expect(snap.complete).toBe(true);
    expect(snap.keys.map((k) => [k.user, k.keyId]).sort()).toEqual([
      ["alice", alices.id],
      ["ci,bot", bots.id],
    ]);
    expect(snap.warnings).toEqual([
      expect.stringMatching(/:4: unquoted row whose user name and ARN cannot be told apart/),
      expect.stringMatching(/:5: user "mallory" belongs to account 999999999999, not 111111111111; ignored$/),
      'line 4: user "ci,bot" read through the IAM API instead',
    ]);
  });
});
