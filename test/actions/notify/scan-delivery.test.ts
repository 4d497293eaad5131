import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";
import { runCli } from "../../support/cli.js";
import { startFakeSlack } from "../../support/fake-apis/slack.js";

const EXAMPLES = resolve(import.meta.dirname, "../../../examples");
const slack = await startFakeSlack({ token: "xoxb-1", channels: ["#iam-alerts"] });
afterAll(() => slack.close());

it("a scan whose Slack delivery failed says so, per channel", async () => {
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-scan-notify-"));
  copyFileSync(join(EXAMPLES, "credential-report.csv"), join(dir, "report.csv"));
  // The bot is in #iam-alerts only; the example's owners send to #iam-alerts, this config to a
  // channel that does not exist.
  writeFileSync(
    join(dir, "c.yaml"),
    `store: ./s.db\naccounts: [{ id: "111122223333" }]\nnotify:\n  slack: { token: xoxb-1, channel: "#nowhere", apiUrl: "${slack.apiUrl}", dmOwners: false }\n`,
  );
  const r = await runCli([
    "scan",
    "--config",
    join(dir, "c.yaml"),
    "--credential-report",
    join(dir, "report.csv"),
    "--now",
    "2026-11-23T09:00:00Z",
    "--commit",
  ]);
  expect(r.stderr).toMatch(/Notifications: slack 0 delivered, \d+ failed, 0 pending\./);
  const json = await runCli(["outbox", "list", "--config", join(dir, "c.yaml"), "--format", "json"]);
  expect(JSON.parse(json.stdout).every((o: { status: string }) => o.status === "failed")).toBe(true);
}, 60_000);
