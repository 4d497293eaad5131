import { expect, it } from "vitest";
import { rootAccessKey } from "../../src/checks/root-access-key.js";
import type { AccountSnapshot } from "../../src/model/observations.js";
import { ACCOUNT } from "../support/keys.js";

it("flags each active root key as critical and ignores inactive ones", () => {
  const snap: AccountSnapshot = {
    account: ACCOUNT,
    source: "credential-report",
    users: [],
    keys: [],
    root: [
      { slot: 1, active: true, lastRotated: new Date("2022-01-01T00:00:00Z") },
      { slot: 2, active: false, lastRotated: new Date("2022-01-01T00:00:00Z") },
    ],
    complete: true,
    warnings: [],
  };
  const out = rootAccessKey.judge(snap, {}, new Date());
  expect(out).toHaveLength(1);
  expect(out[0]).toMatchObject({ severity: "critical", resource: "root#key1", check: "root-access-key" });
});
