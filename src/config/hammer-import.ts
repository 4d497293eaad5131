import { readFileSync } from "node:fs";
import { Document, isMap, isSeq, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { UserError } from "../errors.js";
import { configSchema } from "./schema.js";

// Dow Jones Hammer → iamwarden. Hammer reads three JSON files (config.json, whitelist.json,
// ticket_owners.json); only the two IAM key issue types map onto iamwarden checks. Everything
// else is reported as skipped, never dropped in silence.

/** Hammer issue type → iamwarden check. */
const HANDLED = { user_inactivekeys: "key-inactive", user_keysrotation: "key-age" } as const;
type HammerIssue = keyof typeof HANDLED;
const ISSUES = Object.keys(HANDLED) as HammerIssue[];

/** config.json keys that configure Hammer's own deployment, not behaviour iamwarden could keep. */
const DEPLOYMENT_KEYS = new Set([
  "cronjobs",
  "csv",
  "api",
  "credentials",
  "whitelisting_procedure_url",
  "bu_list",
]);

/** A reference the config loader resolves from the environment: ${NAME}. */
const env = (name: string) => `\${${name}}`;

const KEY_ID = /^(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}$/;
const ACCOUNT_ID = /^\d{12}$/;

// Hammer reads numbers with int(), so "90" works as well as 90.
const days = z.union([z.number(), z.string().regex(/^\s*\d+\s*$/)]).transform((v) => Number(v));
const ids = z.array(z.union([z.string(), z.number()]).transform(String));

const issueSection = z.looseObject({
  enabled: z.boolean().optional(),
  accounts: ids.optional(),
  ignore_accounts: ids.optional(),
  remediation_accounts: ids.optional(),
  reporting: z.boolean().optional(),
  remediation: z.boolean().optional(),
  remediation_retention_period: days.optional(),
  inactive_criteria_days: days.optional(),
  rotation_criteria_days: days.optional(),
});
type IssueSection = z.infer<typeof issueSection>;

const hammerConfig = z.looseObject({
  aws: z.looseObject({
    main_account_id: z.union([z.string(), z.number()]).optional(),
    region: z.string().optional(),
    role_name_identification: z.string().optional(),
    role_name_reporting: z.string().optional(),
    accounts: z.record(z.string(), z.string().nullable()),
  }),
  jira: z
    .looseObject({
      enabled: z.boolean().optional(),
      server: z.string().optional(),
      issue_type: z.string().optional(),
    })
    .optional(),
  slack: z
    .looseObject({ enabled: z.boolean().optional(), default_channel: z.string().nullable().optional() })
    .optional(),
  user_inactivekeys: issueSection.optional(),
  user_keysrotation: issueSection.optional(),
});

// Per account: user names or access key ids ("__comment__" keys hold a string).
const whitelistIssue = z.record(z.string(), z.union([z.string(), z.array(z.string())]));
const whitelistFile = z.looseObject({
  user_inactivekeys: whitelistIssue.optional(),
  user_keysrotation: whitelistIssue.optional(),
});

const ownerProps = z.looseObject({
  jira_project: z.string().nullable().optional(),
  jira_owner: z.string().nullable().optional(),
  jira_parent_ticket: z.string().nullable().optional(),
  slack_owner: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .optional(),
});
const ownersFile = ownerProps.extend({
  account: z.record(z.string(), ownerProps).optional(),
  bu: z.record(z.string(), z.unknown()).optional(),
});

export interface HammerFiles {
  config: { path: string; text: string };
  whitelist?: { path: string; text: string } | undefined;
  owners?: { path: string; text: string } | undefined;
}

export interface HammerImport {
  /** The iamwarden config, as written (defaults left out); validates against configSchema. */
  config: Record<string, unknown>;
  /** Hammer fields with no iamwarden equivalent: `file: field — why`. */
  skipped: string[];
  /** Places where iamwarden's behaviour will differ from Hammer's, and why. */
  warnings: string[];
}

/** JSON.parse with errors that name the file and line; zod issues point at the field's line. */
function parseJson<T>(file: { path: string; text: string }, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(file.text);
  } catch (e) {
    const pos = /position (\d+)/.exec((e as Error).message)?.[1];
    const line = pos === undefined ? 1 : file.text.slice(0, Number(pos)).split("\n").length;
    throw new UserError(
      `${file.path}:${line}: not valid JSON (${(e as Error).message.split(" in JSON")[0]})`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  // JSON is YAML: the YAML parser gives each node's position, for the line number.
  const lines = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter: lines });
  let node: unknown = doc.contents;
  for (const key of issue.path) {
    const next = isMap(node) || isSeq(node) ? node.get(key as string | number, true) : undefined;
    if (!next) break;
    node = next;
  }
  const range = (node as { range?: [number, number] } | null)?.range;
  const line = range ? lines.linePos(range[0]).line : 1;
  const where = issue.path.map(String).join(".");
  throw new UserError(`${file.path}:${line}: ${where ? `${where}: ` : ""}${issue.message}`);
}

const sorted = (s: Iterable<string>) => [...new Set(s)].sort();

/** Hammer's ModuleConfig.module_accounts: the option's list (else every account) minus ignore_accounts. */
function moduleAccounts(section: IssueSection, option: "accounts" | "remediation_accounts", all: string[]) {
  const ignored = new Set(section.ignore_accounts ?? []);
  return (section[option] ?? all).filter((a) => !ignored.has(a));
}

/** Converts the three Hammer files; pure apart from parsing the given texts. */
export function importHammer(files: HammerFiles): HammerImport {
  const hc = parseJson(files.config, hammerConfig);
  const skipped: string[] = [];
  const warnings: string[] = [];
  const cfgName = files.config.path;
  const out: Record<string, unknown> = {};

  for (const key of Object.keys(hc)) {
    if (key === "aws" || key === "jira" || key === "slack" || key in HANDLED) continue;
    if (DEPLOYMENT_KEYS.has(key))
      skipped.push(`${cfgName}: ${key} — Hammer deployment setting, no iamwarden equivalent`);
    else skipped.push(`${cfgName}: ${key} — issue type iamwarden does not handle`);
  }

  // Accounts, with the role Hammer assumes for identification.
  const allAccounts = Object.keys(hc.aws.accounts);
  const valid = (a: string, where: string) => {
    if (ACCOUNT_ID.test(a)) return true;
    warnings.push(`${where}: ${a} is not a 12-digit AWS account id; left out`);
    return false;
  };
  const sections = Object.fromEntries(
    ISSUES.map((i) => [i, hc[i] ? { ...hc[i], enabled: hc[i].enabled ?? true } : undefined]),
  ) as Record<HammerIssue, IssueSection | undefined>;
  const enabledIssues = ISSUES.filter((i) => sections[i]?.enabled);
  const scanned = new Map(
    enabledIssues.map((i) => [i, new Set(moduleAccounts(sections[i]!, "accounts", allAccounts))]),
  );
  const scanUnion = sorted(enabledIssues.flatMap((i) => [...scanned.get(i)!]));
  for (const i of enabledIssues)
    for (const a of scanUnion)
      if (!scanned.get(i)!.has(a))
        warnings.push(
          `${cfgName}: ${i} does not check account ${a} in Hammer; iamwarden checks every configured account with ${HANDLED[i]}`,
        );
  const role = hc.aws.role_name_identification;
  out.accounts = scanUnion
    .filter((a) => valid(a, `${cfgName}: aws.accounts`))
    .map((id) => {
      const alias = hc.aws.accounts[id];
      return { id, ...(alias ? { alias } : {}), ...(role ? { roleName: role } : {}) };
    });
  if (hc.aws.region) out.aws = { region: hc.aws.region };
  if (hc.aws.main_account_id !== undefined && !allAccounts.includes(String(hc.aws.main_account_id)))
    skipped.push(`${cfgName}: aws.main_account_id — Hammer's home account; not scanned, as in Hammer`);
  for (const k of Object.keys(hc.aws))
    if (
      !["main_account_id", "region", "role_name_identification", "role_name_reporting", "accounts"].includes(
        k,
      )
    )
      skipped.push(`${cfgName}: aws.${k} — Hammer deployment setting, no iamwarden equivalent`);

  // Checks: thresholds keep Hammer's meaning (inactive strictly more than N days; rotation due at N days).
  const checks: Record<string, unknown> = {};
  const ki = sections.user_inactivekeys;
  if (!ki)
    warnings.push(`${cfgName}: user_inactivekeys is missing (Hammer requires it); key-inactive disabled`);
  checks["key-inactive"] = ki?.enabled
    ? { enabled: true, days: ki.inactive_criteria_days ?? 1 }
    : { enabled: false };
  const kr = sections.user_keysrotation;
  if (!kr) warnings.push(`${cfgName}: user_keysrotation is missing (Hammer requires it); key-age disabled`);
  // Hammer has no warning period: warnDays 0 makes a key go straight from ok to expired.
  checks["key-age"] = kr?.enabled
    ? { enabled: true, expireDays: kr.rotation_criteria_days ?? 10, warnDays: 0 }
    : { enabled: false };
  if (ki?.enabled && ki.inactive_criteria_days === undefined)
    warnings.push(
      `${cfgName}: user_inactivekeys.inactive_criteria_days missing; Hammer's documented default 1 used`,
    );
  if (kr?.enabled && kr.rotation_criteria_days === undefined)
    warnings.push(
      `${cfgName}: user_keysrotation.rotation_criteria_days missing; Hammer's documented default 10 used`,
    );
  out.checks = checks;

  // Reporting: Hammer reports an issue type only with reporting: true.
  const reporting = enabledIssues.filter((i) => sections[i]!.reporting);
  const notify: Record<string, unknown> = {};
  if (reporting.length && reporting.length < enabledIssues.length)
    warnings.push(
      `${cfgName}: reporting is on for ${reporting.join(", ")} only; iamwarden reports every check to the configured channels`,
    );
  const jira = hc.jira;
  if (jira?.enabled && jira.server) {
    if (reporting.length) {
      const cloud = /\.atlassian\.net\/?$/.test(new URL(jira.server).host);
      notify.jira = {
        url: jira.server,
        ...(cloud ? { email: env("JIRA_EMAIL") } : {}),
        token: env("JIRA_TOKEN"),
        apiVersion: cloud ? 3 : 2,
        issueType: jira.issue_type ?? "Task",
      };
      warnings.push(
        `${cfgName}: jira — Hammer's OAuth credentials live in DynamoDB; set JIRA_TOKEN${cloud ? " and JIRA_EMAIL" : " (a personal access token)"}`,
      );
    } else skipped.push(`${cfgName}: jira — reporting is off for the IAM key issues, so no Jira channel`);
  }
  const slack = hc.slack;
  if (slack?.enabled) {
    if (reporting.length) {
      notify.slack = { token: env("SLACK_TOKEN") };
      warnings.push(`${cfgName}: slack — Hammer's bot token lives in DynamoDB; set SLACK_TOKEN`);
    } else skipped.push(`${cfgName}: slack — reporting is off for the IAM key issues, so no Slack channel`);
    for (const k of ["channels", "ignore", "default_channel", "notify_default_owner"])
      if (k in slack) skipped.push(`${cfgName}: slack.${k} — routes Hammer's own log messages, not findings`);
  }
  if (Object.keys(notify).length) out.notify = notify;

  // Remediation. Hammer only remediates issues it reported, after remediation_retention_period
  // days (365 when unset, as Hammer's code reads it), in remediation_accounts minus ignore_accounts.
  const remediation: Record<string, unknown> = {};
  const remAccounts = new Map<HammerIssue, string[]>();
  for (const i of enabledIssues) {
    const s = sections[i]!;
    if (!s.remediation) continue;
    if (!s.reporting) {
      warnings.push(
        `${cfgName}: ${i}.remediation is on but reporting is off; Hammer never remediates unreported issues, so neither will iamwarden`,
      );
      continue;
    }
    remediation[HANDLED[i]] = { enabled: true, graceDays: s.remediation_retention_period ?? 365 };
    remAccounts.set(i, moduleAccounts(s, "remediation_accounts", allAccounts));
  }
  if (remAccounts.size) {
    const lists = [...remAccounts.values()].map((l) => sorted(l).join(","));
    if (new Set(lists).size > 1)
      warnings.push(
        `${cfgName}: remediation_accounts differ between ${[...remAccounts.keys()].join(" and ")}; iamwarden has one list, their union is used`,
      );
    remediation.accounts = sorted([...remAccounts.values()].flat()).filter((a) =>
      valid(a, `${cfgName}: remediation_accounts`),
    );
    const rr = hc.aws.role_name_reporting;
    if (rr && rr !== role)
      warnings.push(
        `${cfgName}: aws.role_name_reporting — iamwarden uses one role per account (${role ?? "the caller's credentials"}); give it iam:UpdateAccessKey in the remediation accounts`,
      );
    out.remediation = remediation;
  }

  if (files.whitelist) out.exceptions = importWhitelist(files.whitelist, skipped);
  if (files.owners) {
    const owners = importOwners(files.owners, skipped);
    if (owners) out.owners = owners;
  }

  const check = configSchema.safeParse(out);
  if (!check.success) {
    const issue = check.error.issues[0]!;
    throw new UserError(
      `${cfgName}: the imported config is not valid: ${issue.path.join(".")}: ${issue.message}`,
    );
  }
  return { config: out, skipped, warnings };
}

/** whitelist.json: per issue type, per account, user names or access key ids → exceptions. */
function importWhitelist(file: { path: string; text: string }, skipped: string[]) {
  const wl = parseJson(file, whitelistFile);
  const perAccount = new Map<string, Map<string, Set<string>>>(); // account → "user:x"/"key:y" → checks
  for (const [issue, body] of Object.entries(wl)) {
    if (issue === "__comment__") continue;
    if (!(issue in HANDLED)) {
      const n =
        body && typeof body === "object" ? Object.keys(body).filter((k) => k !== "__comment__").length : 0;
      if (n) skipped.push(`${file.path}: ${issue} — issue type iamwarden does not handle (${n} accounts)`);
      continue;
    }
    for (const [account, value] of Object.entries(body as z.infer<typeof whitelistIssue>)) {
      if (account === "__comment__") continue;
      for (const name of (Array.isArray(value) ? value : [value]).map((v) => v.trim()).filter(Boolean)) {
        const ref = KEY_ID.test(name) ? `key:${name}` : `user:${name}`;
        const byRef = perAccount.get(account) ?? new Map<string, Set<string>>();
        const checks = byRef.get(ref) ?? new Set<string>();
        checks.add(HANDLED[issue as HammerIssue]);
        byRef.set(ref, checks);
        perAccount.set(account, byRef);
      }
    }
  }
  const exceptions: Record<string, unknown[]> = {};
  for (const account of sorted(perAccount.keys())) {
    exceptions[account] = [...perAccount.get(account)!].flatMap(([ref, checks]) => {
      const [kind, name] = [ref.slice(0, ref.indexOf(":")), ref.slice(ref.indexOf(":") + 1)];
      const base = { [kind === "key" ? "key" : "user"]: name, reason: "Hammer whitelist" };
      // Whitelisted for both issue types: one exception for every check.
      if (checks.size === ISSUES.length) return [base];
      return [...checks].map((check) => ({ ...base, check }));
    });
  }
  return exceptions;
}

/** ticket_owners.json: global and per-account Jira project, assignee, parent and Slack owners. */
function importOwners(file: { path: string; text: string }, skipped: string[]) {
  const to = parseJson(file, ownersFile);
  const convert = (p: z.infer<typeof ownerProps>) => {
    const o: Record<string, unknown> = {};
    if (p.jira_project) o.jiraProject = p.jira_project;
    if (p.jira_owner) o.jiraAssignee = p.jira_owner;
    if (p.jira_parent_ticket) o.jiraParent = p.jira_parent_ticket;
    const slack = (
      Array.isArray(p.slack_owner) ? p.slack_owner : p.slack_owner ? [p.slack_owner] : []
    ).filter(Boolean);
    if (slack.length) o.slack = slack;
    return o;
  };
  if (to.bu)
    skipped.push(`${file.path}: bu — owners by business-unit tag are not supported; use owners.users`);
  const owners: Record<string, unknown> = {};
  const def = convert(to);
  if (Object.keys(def).length) owners.default = def;
  const accounts: Record<string, unknown> = {};
  for (const [id, p] of Object.entries(to.account ?? {})) {
    const o = convert(p);
    if (Object.keys(o).length) accounts[id] = o;
  }
  if (Object.keys(accounts).length) owners.accounts = accounts;
  return Object.keys(owners).length ? owners : undefined;
}

/** The imported config as YAML, with a header saying where it came from. */
export function renderHammerYaml(result: HammerImport, sources: string[]): string {
  const doc = new Document(result.config);
  doc.commentBefore = [
    ` Imported from Dow Jones Hammer (${sources.join(", ")}) by iamwarden import hammer.`,
    " Blast-radius limits (remediation.maxPerRun, maxShare) have iamwarden's defaults; Hammer had none.",
    ...result.warnings.map((w) => ` note: ${w}`),
  ].join("\n");
  return doc.toString({ lineWidth: 0 });
}

/** Reads the files named on the command line (a missing file is a one-line error). */
export function readHammerFiles(paths: { config: string; whitelist?: string; owners?: string }): HammerFiles {
  const read = (path: string) => {
    try {
      return { path, text: readFileSync(path, "utf8") };
    } catch (e) {
      throw new UserError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  };
  return {
    config: read(paths.config),
    whitelist: paths.whitelist ? read(paths.whitelist) : undefined,
    owners: paths.owners ? read(paths.owners) : undefined,
  };
}
