import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { Config } from "../config/schema.js";
import { UserError } from "../errors.js";
import { type Allowlist, type AllowlistError, describeAllowlistError, parseAllowlist } from "./allowlist.js";
import type { AllowlistSet } from "./set.js";

export type SourceIpSettings = NonNullable<Config["checks"]["source-ip"]>;

/** Reads one `.lst` file; a file that cannot be read is one error at line 0. */
export function readAllowlistFile(
  path: string,
  name = basename(path).replace(/\.lst$/i, ""),
): { list: Allowlist; errors: AllowlistError[] } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return {
      list: parseAllowlist("", name, path).list,
      errors: [{ file: path, line: 0, reason: `cannot read (${code})` }],
    };
  }
  return parseAllowlist(text, name, path);
}

/**
 * Reads every list named in the config. Returns the lists and all errors (bad lines, unreadable
 * files, names used in `default`/`accounts` that no list has), so `allowlist validate` can show
 * them all; `loadAllowlists` turns the first into a UserError.
 */
export function readConfiguredAllowlists(
  settings: SourceIpSettings,
  resolvePath: (p: string) => string,
): { set: AllowlistSet; errors: AllowlistError[] } {
  const lists = new Map<string, Allowlist>();
  const errors: AllowlistError[] = [];
  for (const [name, p] of Object.entries(settings.allowlists)) {
    const r = readAllowlistFile(resolvePath(p), name);
    lists.set(name, r.list);
    errors.push(...r.errors);
  }
  const check = (names: string[], where: string) => {
    for (const n of names)
      if (!lists.has(n))
        errors.push({
          file: "config",
          line: 0,
          reason: `${where}: no allowlist named ${n} (known: ${[...lists.keys()].join(", ") || "none"})`,
        });
  };
  check(settings.default, "checks.source-ip.default");
  for (const [acct, names] of Object.entries(settings.accounts))
    check(names, `checks.source-ip.accounts.${acct}`);
  return { set: { lists, defaultNames: settings.default, accounts: settings.accounts }, errors };
}

/** The configured lists, or a UserError naming the first bad file and line. */
export function loadAllowlists(settings: SourceIpSettings, resolvePath: (p: string) => string): AllowlistSet {
  const { set, errors } = readConfiguredAllowlists(settings, resolvePath);
  const first = errors[0];
  if (first) {
    const more =
      errors.length > 1 ? ` (and ${errors.length - 1} more; run iamwarden allowlist validate)` : "";
    throw new UserError(
      first.file === "config" ? `${first.reason}${more}` : `${describeAllowlistError(first)}${more}`,
    );
  }
  return set;
}
