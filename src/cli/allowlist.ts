import Table from "cli-table3";
import type { Command } from "commander";
import {
  type Allowlist,
  type AllowlistError,
  describeAllowlistError,
  describeOpen,
  matchingEntries,
} from "../allowlist/allowlist.js";
import { readAllowlistFile, readConfiguredAllowlists } from "../allowlist/config.js";
import { parseIp } from "../allowlist/ip.js";
import { configPath } from "../config/load.js";
import { EXIT, UserError } from "../errors.js";
import { registerApply } from "./allowlist-apply.js";
import { settings as cliSettings, formatOption, type GlobalOptions } from "./context.js";
import type { Cli } from "./io.js";

interface ListReport {
  name: string;
  file?: string | undefined;
  contains: boolean;
  entries: { line: number; text: string; comment?: string | undefined }[];
  /** Accounts this list is assigned to by id; `default` also covers accounts not named. */
  accounts: string[];
  default: boolean;
}

function checkReport(
  ip: string,
  lists: Map<string, Allowlist>,
  def: string[],
  accounts: Record<string, string[]>,
) {
  const reports: ListReport[] = [...lists.values()].map((l) => {
    const entries = matchingEntries(l, ip).map((e) => ({ line: e.line, text: e.text, comment: e.comment }));
    return {
      name: l.name,
      file: l.file,
      contains: entries.length > 0,
      entries,
      accounts: Object.entries(accounts)
        .filter(([, names]) => names.includes(l.name))
        .map(([id]) => id),
      default: def.includes(l.name),
    };
  });
  const containing = new Set(reports.filter((r) => r.contains).map((r) => r.name));
  const byAccount: Record<string, string[]> = {};
  for (const [id, names] of Object.entries(accounts)) byAccount[id] = names.filter((n) => containing.has(n));
  return {
    ip,
    lists: reports,
    /** Per configured account: the lists of that account that contain the address. */
    accounts: byAccount,
    /** Lists of accounts not named in config that contain it. */
    defaultLists: def.filter((n) => containing.has(n)),
  };
}

export function register(program: Command, cli: Cli): void {
  const cmd = program
    .command("allowlist")
    .description("check, validate and apply the IP allowlists (.lst files)");
  registerApply(cmd, cli);

  cmd
    .command("check")
    .description("say which lists of which accounts contain an address (exit 1 when none does)")
    .argument("<ip>", "IPv4 or IPv6 address")
    .addOption(formatOption(["table", "json"]))
    .action((ip: string, opts: { format: string }, c: Command) => {
      const ctx = cliSettings(cli, c.optsWithGlobals<GlobalOptions>());
      if (!parseIp(ip)) throw new UserError(`not an IPv4 or IPv6 address: ${ip}`);
      const settings = ctx.loaded.config.checks["source-ip"];
      if (!settings || !Object.keys(settings.allowlists).length)
        throw new UserError("no allowlists configured (checks.source-ip.allowlists)");
      const { set, errors } = readConfiguredAllowlists(settings, (p) => configPath(ctx.loaded, p));
      const unreadable = errors.find((e) => e.line === 0 && e.file !== "config");
      if (unreadable) throw new UserError(describeAllowlistError(unreadable));
      const report = checkReport(ip, set.lists, set.defaultNames, set.accounts);
      // Like grep: found is 0, not found is 1, so scripts can branch on it.
      if (!report.lists.some((l) => l.contains)) cli.exitCode = EXIT.findings;
      if (opts.format === "json") {
        cli.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const table = new Table({
        head: ["list", "contains", "entries", "assigned to"],
        style: { head: [], border: [] },
      });
      for (const r of report.lists) {
        const assigned = [...(r.default ? ["default"] : []), ...r.accounts].join(", ") || "(no account)";
        const entries = r.entries.map(
          (e) => `${r.file ?? r.name}:${e.line}: ${e.text}${e.comment ? `  # ${e.comment}` : ""}`,
        );
        table.push([r.name, r.contains ? "yes" : "no", entries.join("\n"), assigned]);
      }
      cli.stdout.write(`${table.toString()}\n`);
      const inAccounts = Object.entries(report.accounts).filter(([, l]) => l.length);
      const lines = inAccounts.map(([id, l]) => `  account ${id}: ${l.join(", ")}`);
      if (report.defaultLists.length)
        lines.push(`  other accounts (default): ${report.defaultLists.join(", ")}`);
      cli.stdout.write(
        lines.length
          ? `${ip} is allowed in\n${lines.join("\n")}\n`
          : `${ip} is in no allowlist of any account.\n`,
      );
      for (const e of errors) cli.stderr.write(`iamwarden: warning: ${describeAllowlistError(e)}\n`);
    });

  cmd
    .command("validate")
    .description("check .lst files line by line (default: the lists in config)")
    .argument("[files...]", ".lst files; the list name is the file name without .lst")
    .addOption(formatOption(["table", "json"]))
    .action((files: string[], opts: { format: string }, c: Command) => {
      const ctx = cliSettings(cli, c.optsWithGlobals<GlobalOptions>());
      let lists: Allowlist[];
      let errors: AllowlistError[];
      if (files.length) {
        const read = files.map((f) => readAllowlistFile(f));
        lists = read.map((r) => r.list);
        errors = read.flatMap((r) => r.errors);
      } else {
        const settings = ctx.loaded.config.checks["source-ip"];
        if (!settings || !Object.keys(settings.allowlists).length)
          throw new UserError(
            "no allowlists configured (checks.source-ip.allowlists); name .lst files to validate",
          );
        const r = readConfiguredAllowlists(settings, (p) => configPath(ctx.loaded, p));
        lists = [...r.set.lists.values()];
        errors = r.errors;
      }
      const describe = (e: AllowlistError) =>
        e.file === "config" ? `${ctx.loaded.path ?? "config"}: ${e.reason}` : describeAllowlistError(e);
      // Valid, but an allowlist that allows everything is no allowlist: `allowlist apply` refuses it.
      const warnings = lists.flatMap(describeOpen);
      if (opts.format === "json") {
        cli.stdout.write(
          `${JSON.stringify(
            {
              ok: errors.length === 0,
              lists: lists.map((l) => ({ name: l.name, file: l.file, entries: l.entries.length })),
              errors: errors.map((e) => ({ ...e, message: describe(e) })),
              warnings,
            },
            null,
            2,
          )}\n`,
        );
      } else {
        for (const e of errors) cli.stderr.write(`${describe(e)}\n`);
        for (const w of warnings) cli.stderr.write(`warning: ${w}\n`);
        for (const l of lists) {
          const bad = errors.filter((e) => e.file === l.file).length;
          cli.stdout.write(
            `${l.file ?? l.name}: ${l.entries.length} entries${bad ? `, ${bad} bad lines` : ", ok"}\n`,
          );
        }
      }
      if (errors.length) cli.exitCode = EXIT.error;
    });
}
