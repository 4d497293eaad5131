import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  contains,
  describeOpen,
  matchingEntries,
  mergeAllowlists,
  openFamilies,
  parseAllowlist,
} from "../../src/allowlist/allowlist.js";
import { loadAllowlists, readConfiguredAllowlists } from "../../src/allowlist/config.js";
import { parseIp } from "../../src/allowlist/ip.js";
import { accountAllowlists } from "../../src/allowlist/set.js";
import { UserError } from "../../src/errors.js";

const list = (text: string, name = "t") => {
  const r = parseAllowlist(text, name, `${name}.lst`);
  expect(r.errors).toEqual([]);
  return r.list;
};

describe("allowlist parsing", () => {
  it("reads addresses, CIDRs, ranges, comments and blank lines", () => {
    const l = list(
      [
        "# office",
        "",
        "198.51.100.0/24   # HQ",
        "203.0.113.7",
        "10.1.0.0 - 10.1.255.255",
        "2001:db8:1234::/48 # HQ v6",
        "  2001:db8::1  ",
      ].join("\n"),
    );
    expect(l.entries.map((e) => [e.line, e.text, e.comment])).toEqual([
      [3, "198.51.100.0/24", "HQ"],
      [4, "203.0.113.7", undefined],
      [5, "10.1.0.0 - 10.1.255.255", undefined],
      [6, "2001:db8:1234::/48", "HQ v6"],
      [7, "2001:db8::1", undefined],
    ]);
    expect(contains(l, "198.51.100.0")).toBe(true);
    expect(contains(l, "198.51.100.255")).toBe(true);
    expect(contains(l, "198.51.101.0")).toBe(false);
    expect(contains(l, "203.0.113.7")).toBe(true);
    expect(contains(l, "203.0.113.8")).toBe(false);
    expect(contains(l, "10.1.200.3")).toBe(true);
    expect(contains(l, "10.2.0.0")).toBe(false);
    expect(contains(l, "2001:db8:1234:ffff::9")).toBe(true);
    expect(contains(l, "2001:db8:1235::1")).toBe(false);
    expect(contains(l, "2001:0db8:0000:0000:0000:0000:0000:0001")).toBe(true);
  });

  it("treats IPv4-mapped IPv6 addresses as IPv4, in lists and in lookups", () => {
    const l = list("::ffff:192.0.2.0/120\n198.51.100.10");
    expect(contains(l, "192.0.2.77")).toBe(true);
    expect(contains(l, "::ffff:198.51.100.10")).toBe(true);
    expect(contains(l, "::ffff:c633:640a")).toBe(true); // 198.51.100.10 in hex
    expect(contains(l, "::ffff:198.51.100.11")).toBe(false);
  });

  it("reports every bad line with its line number and keeps the good ones", () => {
    const r = parseAllowlist(
      [
        "10.0.0.0/8",
        "10.0.0.300",
        "10.0.0.1/24",
        "10.0.0.0/33",
        "10.0.0.9 - 10.0.0.1",
        "10.0.0.1 - 2001:db8::1",
        "10.1", // ipaddr.js would read this as 10.0.0.1; a list must not
        "fe80::1%eth0",
        "office-router",
        "2001:db8::/129",
      ].join("\n"),
      "bad",
      "bad.lst",
    );
    expect(r.list.entries).toHaveLength(1);
    expect(r.errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.errors[0]).toEqual({
      file: "bad.lst",
      line: 2,
      reason: "not an IPv4/IPv6 address, CIDR or range: 10.0.0.300",
    });
    expect(r.errors[1]!.reason).toBe("host bits set in 10.0.0.1/24 (the network is 10.0.0.0/24)");
    expect(r.errors[2]!.reason).toMatch(/prefix length must be 0-32/);
    expect(r.errors[3]!.reason).toMatch(/backwards/);
    expect(r.errors[4]!.reason).toMatch(/one family/);
  });

  it("merges lists and finds the entries that cover an address", () => {
    const a = list("198.51.100.0/24 # office", "office");
    const b = list("198.51.100.7\n10.0.0.0/8", "ci");
    const m = mergeAllowlists("office+ci", [a, b]);
    expect(m.v4).toEqual([
      { start: parseIp("10.0.0.0")!.n, end: parseIp("10.255.255.255")!.n },
      { start: parseIp("198.51.100.0")!.n, end: parseIp("198.51.100.255")!.n },
    ]);
    expect(contains(m, "10.9.9.9")).toBe(true);
    expect(matchingEntries(m, "198.51.100.7").map((e) => e.text)).toEqual([
      "198.51.100.0/24",
      "198.51.100.7",
    ]);
    expect(contains(m, "iam.amazonaws.com")).toBe(false);
  });

  it("covers the whole address space with /0 and joins adjacent ranges", () => {
    const l = list("0.0.0.0/0\n::/0");
    expect(contains(l, "255.255.255.255")).toBe(true);
    expect(contains(l, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    const adj = list("10.0.0.0/25\n10.0.0.128/25");
    expect(adj.v4).toHaveLength(1);
  });
});

describe("configured allowlists", () => {
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-allow-"));
  writeFileSync(join(dir, "office.lst"), "198.51.100.0/24\n");
  writeFileSync(join(dir, "ci.lst"), "10.0.0.0/8\n");
  writeFileSync(join(dir, "broken.lst"), "10.0.0.0/8\nnot-an-ip\n");
  const settings = (over: Record<string, unknown> = {}) => ({
    enabled: true,
    allowlists: { office: "office.lst", ci: "ci.lst" },
    default: ["office"],
    accounts: { "123456789012": ["office", "ci"] },
    ...over,
  });
  const resolve = (p: string) => join(dir, p);

  it("assigns lists to accounts, with default for the others", () => {
    const set = loadAllowlists(settings(), resolve);
    const of = accountAllowlists(set);
    expect(of("123456789012").names).toEqual(["office", "ci"]);
    expect(contains(of("123456789012").merged, "10.1.1.1")).toBe(true);
    expect(of("999999999999").names).toEqual(["office"]);
    expect(contains(of("999999999999").merged, "10.1.1.1")).toBe(false);
  });

  it("stops with file:line on a bad list, and names unknown list names", () => {
    expect(() =>
      loadAllowlists(settings({ allowlists: { office: "broken.lst" }, accounts: {} }), resolve),
    ).toThrow(
      new UserError(`${join(dir, "broken.lst")}:2: not an IPv4/IPv6 address, CIDR or range: not-an-ip`),
    );
    const r = readConfiguredAllowlists(settings({ default: ["vpn"] }), resolve);
    expect(r.errors.map((e) => e.reason)).toEqual([
      "checks.source-ip.default: no allowlist named vpn (known: office, ci)",
    ]);
    const missing = readConfiguredAllowlists(
      settings({ allowlists: { office: "nope.lst", ci: "ci.lst" } }),
      resolve,
    );
    expect(missing.errors[0]).toMatchObject({ line: 0, reason: "cannot read (ENOENT)" });
  });
});

describe("lists that turn the control off, and trailing text (issue 9 item 9)", () => {
  it("says 'unexpected text after the address' instead of a prefix-length error", () => {
    const r = parseAllowlist(
      "10.0.0.0/8 extra\n198.51.100.7 office\n10.0.0.1 - 10.0.0.9 vpn\n",
      "x",
      "x.lst",
    );
    expect(r.errors.map((e) => e.reason)).toEqual([
      "unexpected text after the address: extra",
      "unexpected text after the address: office",
      "unexpected text after the address: vpn",
    ]);
  });

  it("names 0.0.0.0/0, ::/0 and entries that together allow everything", () => {
    const open = list("198.51.100.0/24\n0.0.0.0/0\n::/0\n", "open");
    expect(openFamilies(open).map((o) => [o.family, o.entry?.line])).toEqual([
      [4, 2],
      [6, 3],
    ]);
    expect(describeOpen(open)[0]).toBe(
      "open.lst:2: 0.0.0.0/0 allows every IPv4 address, which turns the allowlist off",
    );
    const halves = list("0.0.0.0/1\n128.0.0.0/1\n", "halves");
    expect(describeOpen(halves)).toEqual([
      "halves.lst: its entries together allow every IPv4 address, which turns the allowlist off",
    ]);
    expect(openFamilies(list("0.0.0.0/1\n2001:db8::/32\n", "half"))).toEqual([]);
  });
});
