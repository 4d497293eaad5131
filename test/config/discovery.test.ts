import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findConfig, parseConfig, parseConfigText, requireSections } from "../../src/config/load.js";

describe("config discovery", () => {
  const dir = mkdtempSync(join(tmpdir(), "iw-cfg-"));
  const empty = join(dir, "empty");
  mkdirSync(empty);
  writeFileSync(join(dir, "iamwarden.yaml"), "store: ./x.db\n");

  it("takes --config first, then ./iamwarden.yaml, then IAMWARDEN_CONFIG, then defaults", () => {
    const env = { IAMWARDEN_CONFIG: "/etc/iamwarden.yaml" };
    expect(findConfig("given.yaml", env, dir)).toEqual({ path: "given.yaml", source: "flag" });
    expect(findConfig(undefined, env, dir)).toEqual({ path: join(dir, "iamwarden.yaml"), source: "cwd" });
    expect(findConfig(undefined, env, empty)).toEqual({ path: "/etc/iamwarden.yaml", source: "env" });
    expect(findConfig(undefined, {}, empty)).toEqual({ source: "defaults" });
  });
});

describe("config problems", () => {
  const text = [
    "checks:", // 1
    "  key-inactve: { days: 90 }", // 2
    "  key-age: { expireDays: x }", // 3
    "notify:", // 4
    "  slack: { webhook: https://hooks.slack.com/x }", // 5
    "exceptions:", // 6
    '  "111122223333":', // 7
    "    - { user: bob, until: 2027-02-30 }", // 8
  ].join("\n");

  it("reports every problem, each with its file:line, in line order", () => {
    let message = "";
    try {
      parseConfig(text, "c.yaml");
    } catch (e) {
      message = (e as Error).message;
    }
    const lines = message.split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('c.yaml:2: checks: unknown key "key-inactve" (did you mean "key-inactive"?)');
    expect(lines[1]).toMatch(/^c\.yaml:3: checks\.key-age\.expireDays: /);
    expect(lines[2]).toBe('c.yaml:5: notify.slack: unknown key "webhook" (did you mean "webhookUrl"?)');
    expect(lines[3]).toBe("c.yaml:8: exceptions.111122223333[0].until: not a date: 2027-02-30");
  });

  it("rejects impossible dates instead of rolling them over, and keeps real ones", () => {
    const ok = 'exceptions:\n  "111122223333":\n    - { user: bob, until: 2028-02-29 }\n';
    expect(parseConfig(ok, "c.yaml").exceptions["111122223333"]?.[0]).toMatchObject({ user: "bob" });
    expect(() => parseConfig(ok.replace("2028-02-29", "2027-02-29"), "c.yaml")).toThrow(
      /not a date: 2027-02-29/,
    );
    expect(() => parseConfig(ok.replace("2028-02-29", "2027-13-01"), "c.yaml")).toThrow(/not a date/);
  });

  it("suggests nothing for a key far from every known one", () => {
    expect(() => parseConfig("checks:\n  zzzzzz: {}\n", "c.yaml")).toThrow(/unknown key "zzzzzz"$/);
  });

  it("defers a section whose variable is unset: only commands that need it fail", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax under test
    const t = 'store: ./x.db\nnotify:\n  slack: { token: "${SLACK_TOKEN}", channel: "#iam" }\n';
    const { config, deferred } = parseConfigText(t, "c.yaml", {});
    expect(config.notify.slack).toBeUndefined();
    expect(config.store).toBe("./x.db");
    const loaded = { config, deferred, baseDir: ".", source: "flag" as const };
    expect(() => requireSections(loaded, ["store", "checks"])).not.toThrow();
    expect(() => requireSections(loaded, ["notify"])).toThrow(
      "c.yaml:3: notify.slack.token: environment variable SLACK_TOKEN is not set",
    );
  });
});
