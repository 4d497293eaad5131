import { afterEach, describe, expect, it } from "vitest";
import { quarantineOnIamChange } from "../../../src/actions/remediate/quarantine-hook.js";
import { runEventChecks } from "../../../src/engine/events.js";
import type { IamEvent } from "../../../src/model/event.js";
import { fromCloudTrailRecord } from "../../../src/sources/cloudtrail/record.js";
import { addUser } from "../../support/iam-emulator/index.js";
import { ACCT, type Bench, bench, NOW, route } from "./fixture.js";

// Side by side with the Lambda quarantine it replaces: a user whose successful IAM writes are
// followed by a denied call is quarantined all the same, whether the calls arrive together or not.

let b: Bench | undefined;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

let n = 0;
function call(eventName: string, denied = false): IamEvent {
  const e = fromCloudTrailRecord({
    eventVersion: "1.09",
    eventTime: `2026-05-31T10:00:${String(++n % 60).padStart(2, "0")}Z`,
    eventSource: "iam.amazonaws.com",
    eventName,
    awsRegion: "us-east-1",
    sourceIPAddress: "198.51.100.20",
    userIdentity: {
      type: "IAMUser",
      principalId: "AIDAEXAMPLE",
      arn: `arn:aws:iam::${ACCT}:user/mallory`,
      accountId: ACCT,
      accessKeyId: "AKIAEXAMPLE000000001",
      userName: "mallory",
    },
    requestParameters: { userName: `shadow${n}` },
    responseElements: null,
    ...(denied ? { errorCode: "AccessDenied", errorMessage: "not authorized" } : {}),
    eventID: `evt-${n}`,
    recipientAccountId: ACCT,
  });
  if (typeof e === "string") throw new Error(e);
  return e;
}

async function* batches(...bs: IamEvent[][]) {
  for (const x of bs) yield x;
}

async function replay(x: Bench, runId: string, ...bs: IamEvent[][]) {
  const reports: string[] = [];
  const deps = {
    store: x.store,
    config: x.config,
    route: route(x.config),
    now: NOW,
    runId,
    actor: "tester",
    clientsFor: x.clientsFor,
    report: (_id: string, outcome: string) => reports.push(outcome),
  };
  const result = await runEventChecks(batches(...bs), x.config, {
    store: x.store,
    route: deps.route,
    now: NOW,
    runId,
    onFinding: quarantineOnIamChange(deps),
  });
  return { result, reports };
}

const attached = (x: Bench) => x.state.accounts.get(ACCT)!.users.get("mallory")!.attachedPolicies;
const config = { checks: { "iam-change": { adminUsers: ["alice.admin"], quarantine: true } } };

describe("quarantine on any successful call", () => {
  it("four successful writes, then a denied call, in one batch: quarantined, severity high", async () => {
    b = await bench({ config });
    addUser(b.state, ACCT, { name: "mallory" });
    const { result, reports } = await replay(b, "r1", [
      call("CreateUser"),
      call("CreateUser"),
      call("CreateUser"),
      call("CreateUser"),
      call("CreateUser", true),
    ]);
    const [f] = result.findings;
    expect(f?.details).toMatchObject({ lastOutcome: "failure", succeeded: true });
    expect(reports).toEqual(["iamwarden-quarantine attached"]);
    expect(attached(b)).toEqual([`arn:aws:iam::${ACCT}:policy/iamwarden-quarantine`]);
    const stored = await b.store.getFinding(f!.id);
    expect(stored).toMatchObject({ status: "remediated", severity: "high" });
  });

  it("a denied call first, successful writes in a later batch: raised to high and quarantined then", async () => {
    b = await bench({ config });
    addUser(b.state, ACCT, { name: "mallory" });
    const first = await replay(b, "r1", [call("CreateUser", true)]);
    const id = first.result.findings[0]!.id;
    expect(first.reports).toEqual([]);
    expect(await b.store.getFinding(id)).toMatchObject({ status: "open", severity: "medium" });
    expect(attached(b)).toEqual([]);
    const second = await replay(b, "r2", [call("CreateUser"), call("CreateUser", true)]);
    expect(second.reports).toEqual(["iamwarden-quarantine attached"]);
    expect(await b.store.getFinding(id)).toMatchObject({ status: "remediated", severity: "high" });
    // Seen again later: nothing more to do, and nothing more is written to the account.
    const audit = (await b.store.listAudit()).length;
    const third = await replay(b, "r3", [call("CreateUser")]);
    expect(third.reports).toEqual(["mallory is already quarantined (iamwarden-quarantine attached)"]);
    expect(await b.store.listAudit()).toHaveLength(audit);
  });

  it("only denied calls: never quarantined", async () => {
    b = await bench({ config });
    addUser(b.state, ACCT, { name: "mallory" });
    const { reports } = await replay(b, "r1", [call("CreateUser", true), call("CreateRole", true)]);
    expect(reports).toEqual([]);
    expect(attached(b)).toEqual([]);
  });
});
