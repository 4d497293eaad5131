import {
  CredentialReportNotPresentException,
  CredentialReportNotReadyException,
  GenerateCredentialReportCommand,
  GetAccessKeyLastUsedCommand,
  GetCredentialReportCommand,
  IAMClient,
  ListUsersCommand,
} from "@aws-sdk/client-iam";
import { ListAccountsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { XMLParser } from "fast-xml-parser";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  addAccessKey,
  addAccount,
  addRole,
  addUser,
  createState,
  type IamEmulator,
  REPORT_COLUMNS,
  seedUsers,
  setOrganization,
  startIamEmulator,
} from "../../support/iam-emulator/index.js";
import { useFakeAwsCredentials } from "./setup.js";

// The emulator answers as the IAM, STS and Organizations references document, through the real
// SDK clients: the other tests rely on that.

let emu: IamEmulator | undefined;
beforeAll(useFakeAwsCredentials);
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const client = <T>(Ctor: new (c: object) => T, url: string, maxAttempts = 1) =>
  new Ctor({ endpoint: url, region: "us-east-1", maxAttempts });

describe("iam emulator", () => {
  it("rejects unsigned requests as AWS does", async () => {
    emu = await startIamEmulator();
    const res = await fetch(emu.url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "Action=ListUsers&Version=2010-05-08",
    });
    expect(res.status).toBe(403);
    const doc = new XMLParser().parse(await res.text());
    expect(doc.ErrorResponse.Error).toMatchObject({ Type: "Sender", Code: "MissingAuthenticationToken" });
    expect(emu.calls.total).toBe(0);
  });

  it("pages ListUsers by 100 unless MaxItems says otherwise", async () => {
    const state = createState();
    seedUsers(state, state.homeAccount, { users: 150, seed: 1 });
    emu = await startIamEmulator({ state });
    const iam = client(IAMClient, emu.url);
    const first = await iam.send(new ListUsersCommand({}));
    expect(first.Users).toHaveLength(100);
    expect(first.IsTruncated).toBe(true);
    expect(first.Users?.[0]?.CreateDate).toBeInstanceOf(Date);
    const rest = await iam.send(new ListUsersCommand({ Marker: first.Marker, MaxItems: 1000 }));
    expect(rest.Users).toHaveLength(50);
    expect(rest.IsTruncated).toBe(false);
    expect(rest.Marker).toBeUndefined();
    await expect(iam.send(new ListUsersCommand({ MaxItems: 1001 }))).rejects.toMatchObject({
      name: "ValidationError",
    });
  });

  it("omits LastUsedDate and says N/A for a key never used", async () => {
    const state = createState();
    addUser(state, state.homeAccount, { name: "new.user" });
    const key = addAccessKey(state, state.homeAccount, "new.user", { createDate: new Date() });
    emu = await startIamEmulator({ state });
    const r = await client(IAMClient, emu.url).send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.id }));
    expect(r.UserName).toBe("new.user");
    expect(r.AccessKeyLastUsed?.LastUsedDate).toBeUndefined();
    expect(r.AccessKeyLastUsed).toMatchObject({ ServiceName: "N/A", Region: "N/A" });
  });

  it("generates the credential report asynchronously, with the 22 documented columns", async () => {
    const state = createState();
    addUser(state, state.homeAccount, { name: "a,b" });
    emu = await startIamEmulator({ state, reportDelayMs: 150 });
    const iam = client(IAMClient, emu.url);
    await expect(iam.send(new GetCredentialReportCommand({}))).rejects.toBeInstanceOf(
      CredentialReportNotPresentException,
    );
    expect((await iam.send(new GenerateCredentialReportCommand({}))).State).toBe("STARTED");
    expect((await iam.send(new GenerateCredentialReportCommand({}))).State).toBe("INPROGRESS");
    await expect(iam.send(new GetCredentialReportCommand({}))).rejects.toBeInstanceOf(
      CredentialReportNotReadyException,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect((await iam.send(new GenerateCredentialReportCommand({}))).State).toBe("COMPLETE");
    const report = await iam.send(new GetCredentialReportCommand({}));
    expect(report.ReportFormat).toBe("text/csv");
    const lines = Buffer.from(report.Content!).toString("utf8").trim().split("\n");
    expect(lines[0]!.split(",")).toEqual([...REPORT_COLUMNS]);
    expect(REPORT_COLUMNS).toHaveLength(22);
    expect(lines[1]).toMatch(/^<root_account>,arn:aws:iam::111111111111:root,/);
    expect(lines[2]).toMatch(/^"a,b",/);
  });

  it("answers Throttling beyond the rate limit", async () => {
    emu = await startIamEmulator({ rateLimit: 3 });
    const iam = client(IAMClient, emu.url);
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => iam.send(new ListUsersCommand({}))),
    );
    const rejected = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    expect(rejected.length).toBeGreaterThanOrEqual(3);
    expect(rejected[0]!.reason).toMatchObject({ name: "Throttling", $metadata: { httpStatusCode: 400 } });
    expect(emu.calls.throttled).toBe(rejected.length);
  });

  it("assumes a role only with the right external id, and then answers as that account", async () => {
    const state = createState();
    addAccount(state, { id: "222222222222" });
    addRole(state, "222222222222", { name: "audit", externalId: "xyz" });
    addUser(state, "222222222222", { name: "only-in-222" });
    emu = await startIamEmulator({ state });
    const sts = client(STSClient, emu.url);
    const RoleArn = "arn:aws:iam::222222222222:role/audit";
    await expect(
      sts.send(new AssumeRoleCommand({ RoleArn, RoleSessionName: "test", ExternalId: "wrong" })),
    ).rejects.toMatchObject({ name: "AccessDenied" });
    const r = await sts.send(new AssumeRoleCommand({ RoleArn, RoleSessionName: "test", ExternalId: "xyz" }));
    expect(r.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    expect(r.Credentials?.Expiration).toBeInstanceOf(Date);
    const iam = new IAMClient({
      endpoint: emu.url,
      region: "us-east-1",
      credentials: {
        accessKeyId: r.Credentials!.AccessKeyId!,
        secretAccessKey: r.Credentials!.SecretAccessKey!,
        sessionToken: r.Credentials!.SessionToken!,
      },
    });
    expect((await iam.send(new ListUsersCommand({}))).Users?.map((u) => u.UserName)).toEqual(["only-in-222"]);
    // The same key without its session token is refused.
    const tokenless = new IAMClient({
      endpoint: emu.url,
      region: "us-east-1",
      maxAttempts: 1,
      credentials: { accessKeyId: r.Credentials!.AccessKeyId!, secretAccessKey: "x" },
    });
    await expect(tokenless.send(new ListUsersCommand({}))).rejects.toMatchObject({
      name: "InvalidClientTokenId",
    });
  });

  it("lists organization accounts over JSON 1.1 with NextToken paging", async () => {
    const state = createState();
    setOrganization(state);
    for (let i = 0; i < 4; i++)
      addAccount(state, { id: `30000000000${i}`, status: "ACTIVE", state: "ACTIVE" });
    emu = await startIamEmulator({ state });
    const org = client(OrganizationsClient, emu.url);
    const first = await org.send(new ListAccountsCommand({ MaxResults: 3 }));
    expect(first.Accounts).toHaveLength(3);
    expect(first.Accounts?.[0]?.JoinedTimestamp).toBeInstanceOf(Date);
    const rest = await org.send(new ListAccountsCommand({ MaxResults: 3, NextToken: first.NextToken }));
    expect(rest.Accounts?.map((a) => a.Id)).toEqual(["300000000002", "300000000003"]);
    expect(rest.NextToken).toBeUndefined();
    await expect(org.send(new ListAccountsCommand({ MaxResults: 21 }))).rejects.toMatchObject({
      name: "InvalidInputException",
    });
  });
});
