import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsClientFactory } from "../../../src/cloud/aws/clients.js";
import { resolveTargets } from "../../../src/cloud/aws/targets.js";
import { UserError } from "../../../src/errors.js";
import {
  addAccount,
  createState,
  type IamEmulator,
  setOrganization,
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

async function resolve(accounts: unknown[], only?: string[], partition?: string) {
  const state = createState({ partition });
  setOrganization(state);
  addAccount(state, { id: "222222222222", name: "prod", status: "ACTIVE", state: "ACTIVE" });
  addAccount(state, { id: "333333333333", name: "old", status: "SUSPENDED" });
  addAccount(state, { id: "444444444444", name: "closing", status: "ACTIVE", state: "PENDING_CLOSURE" });
  addAccount(state, { id: "555555555555", name: "staging" });
  for (let i = 0; i < 12; i++) addAccount(state, { id: `6000000000${String(i).padStart(2, "0")}` });
  emu ??= await startIamEmulator({ state, orgPageSize: 5 });
  const config = emulatorConfig(emu.url, { accounts });
  return resolveTargets(config, awsClientFactory(config.aws), { only });
}

describe("resolveTargets", () => {
  it("reads the caller's own account when config names none", async () => {
    expect(await resolve([])).toEqual([{ id: HOME }]);
    expect(emu!.calls.byAction.GetCallerIdentity).toBe(1);
  });

  it("builds role ARNs from roleName in the caller's partition, and keeps roleArn and externalId", async () => {
    const targets = await resolve(
      [
        { id: "222222222222", alias: "prod", roleArn: "arn:aws-cn:iam::222222222222:role/custom/audit" },
        { ids: ["333333333333", "444444444444"], roleName: "audit", externalId: "ext-1" },
        { id: "555555555555", roleName: "audit", region: "cn-north-1" },
      ],
      undefined,
      "aws-cn",
    );
    expect(targets).toEqual([
      {
        id: "222222222222",
        alias: "prod",
        roleArn: "arn:aws-cn:iam::222222222222:role/custom/audit",
        externalId: undefined,
        region: undefined,
      },
      { id: "333333333333", roleArn: "arn:aws-cn:iam::333333333333:role/audit", externalId: "ext-1" },
      { id: "444444444444", roleArn: "arn:aws-cn:iam::444444444444:role/audit", externalId: "ext-1" },
      {
        id: "555555555555",
        alias: undefined,
        roleArn: "arn:aws-cn:iam::555555555555:role/audit",
        externalId: undefined,
        region: "cn-north-1",
      },
    ]);
  });

  it("discovers ACTIVE organization accounts across pages, skipping suspended, closing and excluded ones", async () => {
    const targets = await resolve([
      { id: "555555555555", alias: "stage-by-hand", roleArn: "arn:aws:iam::555555555555:role/x" },
      { discover: "organizations", roleName: "iamwarden-audit", externalId: "e", exclude: ["600000000003"] },
    ]);
    const ids = targets.map((t) => t.id);
    expect(ids).not.toContain("333333333333");
    expect(ids).not.toContain("444444444444");
    expect(ids).not.toContain("600000000003");
    expect(ids).toContain("600000000011");
    // 17 accounts in 4 pages of 5: home, prod, staging and 11 of the 12 others are read.
    expect(targets).toHaveLength(14);
    expect(emu!.calls.byAction.ListAccounts).toBe(4);
    expect(targets.find((t) => t.id === "222222222222")).toEqual({
      id: "222222222222",
      alias: "prod",
      roleArn: "arn:aws:iam::222222222222:role/iamwarden-audit",
      externalId: "e",
    });
    // An explicit entry wins over the discovered one.
    expect(targets.find((t) => t.id === "555555555555")?.alias).toBe("stage-by-hand");
  });

  it("reads the management account with the caller's credentials when discovery names no role", async () => {
    const targets = await resolve([{ discover: "organizations" }]);
    expect(targets.find((t) => t.id === HOME)).toEqual({ id: HOME, alias: "home" });
    expect(targets.find((t) => t.id === "222222222222")?.roleArn).toBe(
      "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole",
    );
  });

  it("filters by --account and refuses an account it does not know", async () => {
    const accounts = [{ ids: ["222222222222", "555555555555"], roleName: "audit" }];
    expect((await resolve(accounts, ["555555555555"])).map((t) => t.id)).toEqual(["555555555555"]);
    const err = await resolve(accounts, ["999999999999"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/^unknown account 999999999999: not among the accounts to scan/);
  });

  it("refuses an account without a role that the current credentials do not belong to", async () => {
    expect(await resolve([{ id: HOME, alias: "me" }])).toEqual([
      { id: HOME, alias: "me", externalId: undefined, region: undefined },
    ]);
    await expect(resolve([{ id: "222222222222" }])).rejects.toThrow(
      /accounts\[0\]: account 222222222222 has no roleArn or roleName/,
    );
  });
});
