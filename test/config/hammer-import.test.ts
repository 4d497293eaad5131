import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { keyAgeState } from "../../src/checks/key-age.js";
import { isInactive } from "../../src/checks/key-inactive.js";
import { importHammer, readHammerFiles, renderHammerYaml } from "../../src/config/hammer-import.js";
import { parseConfig } from "../../src/config/load.js";
import { configSchema } from "../../src/config/schema.js";
import { UserError } from "../../src/errors.js";
import type { AccessKey } from "../../src/model/observations.js";
import { DAY_MS } from "../../src/util/time.js";
import { runCli } from "../support/cli.js";

const dir = "test/fixtures/hammer";
const paths = {
  config: `${dir}/config.json`,
  whitelist: `${dir}/whitelist.json`,
  owners: `${dir}/ticket_owners.json`,
};
const fixtureText = (name: string) => readFileSync(`${dir}/${name}`, "utf8");

/** Imports the fixture config after `edit` has changed its parsed JSON. */
function importEdited(edit: (c: Record<string, Record<string, unknown>>) => void) {
  const c = JSON.parse(fixtureText("config.json"));
  edit(c);
  return importHammer({ config: { path: "config.json", text: JSON.stringify(c, null, 2) } });
}

describe("import hammer", () => {
  const result = importHammer(readHammerFiles(paths));
  const cfg = configSchema.parse(result.config);

  it("keeps the thresholds of user_inactivekeys and user_keysrotation", () => {
    expect(cfg.checks["key-inactive"]).toMatchObject({ enabled: true, days: 60 });
    // "90" is read with int() by Hammer; no warning period, as in Hammer.
    expect(cfg.checks["key-age"]).toMatchObject({ enabled: true, expireDays: 90, warnDays: 0 });
    const now = new Date("2026-06-01T00:00:00Z");
    const key = (lastUsedDaysAgo: number): AccessKey => ({
      account: { id: "123456789012" },
      user: "u",
      keyId: "AKIAAAAAAAAAAAAAAAAA",
      status: "Active",
      createDate: new Date(now.getTime() - 400 * DAY_MS),
      lastUsed: new Date(now.getTime() - lastUsedDaysAgo * DAY_MS),
    });
    // Hammer flags a key whose last use is more than inactive_criteria_days ago.
    expect(isInactive(key(60), cfg.checks["key-inactive"].days, now)).toBe(false);
    expect(isInactive(key(61), cfg.checks["key-inactive"].days, now)).toBe(true);
    const created = (d: number) => ({ ...key(1), createDate: new Date(now.getTime() - d * DAY_MS) });
    expect(keyAgeState(created(89), cfg.checks["key-age"], now)).toBe("ok");
    expect(keyAgeState(created(90), cfg.checks["key-age"], now)).toBe("expired");
  });

  it("maps accounts with aliases and the identification role", () => {
    expect(cfg.accounts).toEqual([
      { id: "123456789012", alias: "master", roleName: "hammer-cloudsec-crossact-id" },
      { id: "210987654321", alias: "slave1", roleName: "hammer-cloudsec-crossact-id" },
      { id: "654321210987", alias: "slave2", roleName: "hammer-cloudsec-crossact-id" },
    ]);
    expect(cfg.aws.region).toBe("eu-west-1");
  });

  it("keeps remediation, its retention period and remediation_accounts minus ignore_accounts", () => {
    expect(cfg.remediation["key-inactive"]).toEqual({ enabled: true, graceDays: 7 });
    expect(cfg.remediation["key-age"]).toBeUndefined();
    // 654321210987 is in remediation_accounts but also in ignore_accounts: Hammer leaves it alone.
    expect(cfg.remediation.accounts).toEqual(["210987654321"]);
  });

  it("turns the whitelist into exceptions by user or key, per check", () => {
    expect(cfg.exceptions["123456789012"]).toEqual(
      expect.arrayContaining([
        { user: "svc-backup", check: "key-inactive", reason: "Hammer whitelist" },
        // Whitelisted for both issue types: one exception for every check.
        { user: "break-glass", reason: "Hammer whitelist" },
        { key: "AKIAIOSFODNN7EXAMPLE", check: "key-inactive", reason: "Hammer whitelist" },
        { key: "AKIAJ6V5TCF3NA223T12", check: "key-age", reason: "Hammer whitelist" },
      ]),
    );
    expect(cfg.exceptions["123456789012"]).toHaveLength(4);
    // The empty string in the list is not an exception for a user named "".
    expect(cfg.exceptions["210987654321"]).toEqual([
      { key: "AKIAI44QH8DHBEXAMPLE", check: "key-inactive", reason: "Hammer whitelist" },
    ]);
  });

  it("maps ticket owners, global and per account, with slack_owner as string or list", () => {
    expect(cfg.owners.default).toEqual({
      jiraProject: "AWSSEC",
      jiraAssignee: "secops.lead",
      jiraParent: "AWSSEC-1234",
      slack: ["#hammer-dev", "bob"],
    });
    // An empty jira_owner is no override.
    expect(cfg.owners.accounts["210987654321"]).toEqual({
      jiraProject: "SLAVE1SEC",
      jiraParent: "SLAVE1SEC-42",
      slack: ["#slave1-security"],
    });
  });

  it("configures Jira (Server: API v2) and Slack with secrets from the environment", () => {
    expect(result.config.notify).toEqual({
      jira: { url: "https://issues.example.com", token: `\${JIRA_TOKEN}`, apiVersion: 2, issueType: "Bug" },
      slack: { token: `\${SLACK_TOKEN}` },
    });
  });

  it("lists every field it cannot keep as skipped", () => {
    const skipped = result.skipped.join("\n");
    for (const issue of [
      "s3_bucket_acl",
      "secgrp_unrestricted_access",
      "cloudtrails",
      "ebs_unencrypted_volume",
    ])
      expect(skipped).toContain(`${paths.config}: ${issue} — issue type iamwarden does not handle`);
    expect(skipped).toContain(`${paths.whitelist}: cloudtrails — issue type iamwarden does not handle`);
    expect(skipped).toContain(`${paths.whitelist}: s3_bucket_acl`);
    expect(skipped).toContain(`${paths.config}: cronjobs`);
    expect(skipped).toContain(`${paths.config}: slack.channels`);
    // An empty section holds nothing to lose.
    expect(skipped).not.toContain("public_ami_issues");
    expect(result.warnings.join("\n")).toContain("user_inactivekeys does not check account 654321210987");
  });

  it("writes YAML that loads as an iamwarden config", () => {
    const yaml = renderHammerYaml(result, Object.values(paths));
    expect(yaml.startsWith("# Imported from Dow Jones Hammer")).toBe(true);
    const loaded = parseConfig(yaml, "iamwarden.yaml", { JIRA_TOKEN: "t", SLACK_TOKEN: "s" });
    expect(loaded.notify.jira?.token).toBe("t");
    expect(loaded.remediation.accounts).toEqual(["210987654321"]);
    expect(loaded.exceptions).toEqual(cfg.exceptions);
  });

  it("leaves remediation off where Hammer would never remediate (not reported)", () => {
    const r = importEdited((c) => {
      c.user_inactivekeys!.reporting = false;
      c.user_keysrotation!.reporting = false;
    });
    expect(r.config.remediation).toBeUndefined();
    expect(r.warnings.join("\n")).toContain("Hammer never remediates unreported issues");
    // Nothing is reported for these issue types, so no channel is configured.
    expect(r.config.notify).toBeUndefined();
    expect(r.skipped.join("\n")).toContain("jira — reporting is off");
  });

  it("uses Hammer's code default of 365 days when remediation_retention_period is unset", () => {
    const r = importEdited((c) => {
      delete c.user_inactivekeys!.remediation_retention_period;
      delete c.user_inactivekeys!.remediation_accounts;
    });
    const rem = configSchema.parse(r.config).remediation;
    expect(rem["key-inactive"]?.graceDays).toBe(365);
    // Without remediation_accounts Hammer remediates in every account but the ignored ones.
    expect(rem.accounts).toEqual(["123456789012", "210987654321"]);
  });

  it("names file and line for invalid JSON and for a bad field", () => {
    const bad = fixtureText("config.json").replace(
      '"inactive_criteria_days": 60,',
      '"inactive_criteria_days": 60',
    );
    expect(() => importHammer({ config: { path: "c.json", text: bad } })).toThrow(UserError);
    expect(() => importHammer({ config: { path: "c.json", text: bad } })).toThrow(
      /^c\.json:74: not valid JSON/,
    );
    const wrong = fixtureText("config.json").replace(
      '"inactive_criteria_days": 60',
      '"inactive_criteria_days": "sixty"',
    );
    expect(() => importHammer({ config: { path: "c.json", text: wrong } })).toThrow(
      /^c\.json:73: user_inactivekeys\.inactive_criteria_days: /,
    );
  });

  it("runs as a command: YAML to --out, skipped fields on stderr", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "iamwarden-hammer-")), "iamwarden.yaml");
    const run = (extra: string[]) =>
      runCli([
        "import",
        "hammer",
        "--config",
        paths.config,
        "--whitelist",
        paths.whitelist,
        "--owners",
        paths.owners,
        "--out",
        out,
        ...extra,
      ]);
    const first = await run([]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe("");
    expect(first.stderr).toContain("skipped test/fixtures/hammer/config.json: s3_bucket_acl — issue type");
    const written = parseConfig(readFileSync(out, "utf8"), out, { JIRA_TOKEN: "t", SLACK_TOKEN: "s" });
    expect(written.checks["key-inactive"].days).toBe(60);
    const again = await run([]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists (pass --force to overwrite)");
  });
});
