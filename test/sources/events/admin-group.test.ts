import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsClientFactory } from "../../../src/cloud/aws/clients.js";
import { adminResolver, groupMembers } from "../../../src/sources/cloudtrail/admin-group.js";
import {
  addGroup,
  addUser,
  addUserToGroup,
  createState,
  type IamEmulator,
  startIamEmulator,
} from "../../support/iam-emulator/index.js";
import { emulatorConfig, useFakeAwsCredentials } from "../aws/setup.js";

// GetGroup against the local IAM emulator, which speaks the IAM query API (SigV4, Action/Version,
// required GroupName) and may return fewer members than MaxItems, paging with IsTruncated/Marker.

const HOME = "111111111111";
let emu: IamEmulator | undefined;
beforeAll(useFakeAwsCredentials);
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function withAdmins(members: number) {
  const state = createState();
  addGroup(state, HOME, { name: "admins" });
  addGroup(state, HOME, { name: "devs" });
  for (let i = 0; i < members; i++) {
    addUser(state, HOME, { name: `admin-${i}` });
    addUserToGroup(state, HOME, `admin-${i}`, "admins");
  }
  addUser(state, HOME, { name: "dev" });
  addUserToGroup(state, HOME, "dev", "devs");
  emu = await startIamEmulator({ state, pageCap: 100 });
  return awsClientFactory(emulatorConfig(emu.url).aws).home.iam;
}

describe("admin group members", () => {
  it("follows GetGroup markers past one page", async () => {
    const iam = await withAdmins(230);
    const members = await groupMembers(iam, "admins");
    expect(members.size).toBe(230);
    expect(members.has("admin-229")).toBe(true);
    expect(members.has("dev")).toBe(false);
    expect(emu!.calls.byAction.GetGroup).toBe(3);
  });

  it("adds adminUsers, reads each account once per run, and warns when a group cannot be read", async () => {
    const iam = await withAdmins(2);
    const warnings: string[] = [];
    const resolve = adminResolver({
      adminUsers: ["break-glass"],
      adminGroup: "admins",
      iamFor: async (account) => (account === HOME ? iam : undefined),
      onWarning: (w) => warnings.push(w),
    });
    expect([...(await resolve(HOME))].sort()).toEqual(["admin-0", "admin-1", "break-glass"]);
    await resolve(HOME);
    expect(emu!.calls.byAction.GetGroup).toBe(1);
    expect([...(await resolve("222222222222"))]).toEqual(["break-glass"]);
    expect(warnings).toEqual([
      "account 222222222222: not among the configured accounts; admin group admins not read",
    ]);

    const missing = adminResolver({
      adminUsers: [],
      adminGroup: "no-such-group",
      iamFor: async () => iam,
      onWarning: (w) => warnings.push(w),
    });
    expect((await missing(HOME)).size).toBe(0);
    expect(warnings[1]).toMatch(
      /^account 111111111111: cannot read admin group no-such-group \(NoSuchEntity(Exception)?: /,
    );
  });

  it("needs no IAM access without an admin group", async () => {
    const resolve = adminResolver({
      adminUsers: ["alice.admin"],
      iamFor: async () => {
        throw new Error("must not be called");
      },
    });
    expect([...(await resolve(HOME))]).toEqual(["alice.admin"]);
  });
});
