import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";

describe("config", () => {
  it("is valid when empty, with the documented defaults", () => {
    const c = parseConfig("", "c.yaml");
    expect(c.store).toBe("./iamwarden.db");
    expect(c.checks["key-inactive"]).toMatchObject({ days: 90 });
    expect(c.checks["key-age"]).toMatchObject({ expireDays: 180, warnDays: 15 });
    expect(c.aws).toMatchObject({ mode: "auto", region: "us-east-1" });
    expect(c.remediation.accounts).toEqual([]);
  });

  it("names the file, the line and the field of a bad value", () => {
    const text = ["store: ./x.db", "checks:", "  key-inactive:", "    days: ninety"].join("\n");
    expect(() => parseConfig(text, "c.yaml")).toThrow(/^c\.yaml:4: checks\.key-inactive\.days: /);
  });

  it("rejects unknown keys (typos) with their line", () => {
    expect(() => parseConfig("store: x\nchecks:\n  key-inactve: {}\n", "c.yaml")).toThrow(
      /^c\.yaml:3: checks: .*key-inactve/,
    );
  });

  it("reports YAML syntax errors with their line", () => {
    expect(() => parseConfig("store: x\naws: [\n", "c.yaml")).toThrow(/^c\.yaml:\d+: /);
  });

  it("expands $ENV references with defaults, and fails on an unset variable", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax under test
    const text = 'notify:\n  webhook: { url: "${HOOK}", secret: "${HOOK_SECRET:-s3cret}" }\n';
    const c = parseConfig(text, "c.yaml", { HOOK: "https://hooks.example.com/x" });
    expect(c.notify.webhook).toMatchObject({ url: "https://hooks.example.com/x", secret: "s3cret" });
    expect(() => parseConfig(text, "c.yaml", {})).toThrow(
      "c.yaml:2: notify.webhook.url: environment variable HOOK is not set",
    );
  });

  it("validates account ids and warnDays < expireDays", () => {
    expect(() => parseConfig('accounts:\n  - id: "12345"\n', "c.yaml")).toThrow(/c\.yaml:2: accounts\[0\]/);
    expect(() => parseConfig("checks:\n  key-age: { expireDays: 10, warnDays: 10 }\n", "c.yaml")).toThrow(
      /warnDays must be less than expireDays/,
    );
  });
});

describe("exceptions", () => {
  it("accept Hammer's whitelist shape: bare user names and access key ids", () => {
    const c = parseConfig(
      'exceptions:\n  "123456789012": [break-glass, AKIAIOSFODNN7EXAMPLE, { user: bob, reason: x }]\n',
      "c.yaml",
    );
    expect(c.exceptions["123456789012"]).toEqual([
      { user: "break-glass" },
      { key: "AKIAIOSFODNN7EXAMPLE" },
      { user: "bob", reason: "x" },
    ]);
  });
});
