import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { redactConfig, redactUrl } from "../../src/config/redact.js";
import { configSchema } from "../../src/config/schema.js";
import { runCli } from "../support/cli.js";

const SECRETS = [
  "XXXXSLACKHOOKSECRETXXXX",
  "hunter2",
  "jira-bot",
  "s3cr3t-path-token",
  "qtoken123",
  "pgpass",
  "xoxb-123-456",
  "R0UTINGKEYPERCHECK",
  "hmac-secret",
];
const raw = {
  store: "postgres://warden:pgpass@db.example.com/iamwarden",
  notify: {
    slack: { webhookUrl: `https://hooks.slack.com/services/T000/B000/${SECRETS[0]}`, token: SECRETS[6] },
    jira: { url: `https://${SECRETS[2]}:${SECRETS[1]}@jira.example.com/`, token: "t0ken", project: "SEC" },
    pagerduty: { routingKey: "R0UTINGKEY", routingKeys: { "key-age": SECRETS[7] } },
    webhook: { url: `https://hooks.example.com/in/${SECRETS[3]}?key=${SECRETS[4]}`, secret: SECRETS[8] },
  },
  exceptions: { "123456789012": [{ key: "AKIAIOSFODNN7EXAMPLE", reason: "vendor" }] },
};

describe("config validate --print", () => {
  it("masks secrets held in URLs as well as by name, keeping where they point", () => {
    const shown = JSON.stringify(redactConfig(configSchema.parse(raw)));
    for (const s of SECRETS) expect(shown).not.toContain(s);
    expect(shown).toContain("https://hooks.slack.com/***");
    expect(shown).toContain("postgres://***:***@db.example.com/iamwarden");
    expect(shown).toContain("https://***:***@jira.example.com/");
    expect(shown).toContain("https://hooks.example.com/***?key=***");
    expect(shown).toContain('"project":"SEC"');
    expect(redactUrl("https://events.pagerduty.com/v2/enqueue")).toBe(
      "https://events.pagerduty.com/v2/enqueue",
    );
  });

  it("prints no secret and no full key id", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamwarden-redact-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify(raw));
    const r = await runCli(["config", "validate", file, "--print"]);
    expect(r.code).toBe(0);
    for (const s of [...SECRETS, "AKIAIOSFODNN7EXAMPLE"]) expect(r.stdout).not.toContain(s);
    expect(r.stdout).toContain("hooks.slack.com");
  }, 30_000);
});
