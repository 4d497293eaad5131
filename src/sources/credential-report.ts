import { CsvError, parse } from "csv-parse/sync";
import { UserError } from "../errors.js";
import type { AccessKey, AccountRef, AccountSnapshot, IamUser, RootKey } from "../model/observations.js";

// The IAM credential report, as GetCredentialReport returns it (base64-decoded CSV).
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html

const REQUIRED = [
  "user",
  "arn",
  "user_creation_time",
  "access_key_1_active",
  "access_key_1_last_rotated",
  "access_key_1_last_used_date",
  "access_key_1_last_used_region",
  "access_key_1_last_used_service",
  "access_key_2_active",
  "access_key_2_last_rotated",
  "access_key_2_last_used_date",
  "access_key_2_last_used_region",
  "access_key_2_last_used_service",
] as const;

/** Values the report uses for "nothing here": N/A, no_information, not_supported, empty. */
const ABSENT = new Set(["", "N/A", "no_information", "not_supported"]);

/** Console columns: optional, so that a trimmed report still yields its keys (logins then unknown). */
const LOGIN_COLUMNS = [
  "password_enabled",
  "password_last_used",
  "password_last_changed",
  "mfa_active",
] as const;

export interface ReportRow {
  line: number;
  user: string;
  arn: string;
  account: string;
  isRoot: boolean;
  created?: Date | undefined;
  /** Undefined when the report has no console columns. */
  login?:
    | {
        passwordEnabled: boolean;
        /** Undefined when never used, or not since IAM began tracking it (no_information). */
        passwordLastUsed?: Date | undefined;
        passwordLastChanged?: Date | undefined;
        mfaActive: boolean;
      }
    | undefined;
  /** What was odd about the row, each naming file and line. */
  warnings?: string[] | undefined;
  /** Not to be judged from the report: a duplicate, another account's user, or an unsure name. */
  skip?: boolean | undefined;
  /** For a row whose name and ARN could not be told apart: the splits that fit (maybe none). */
  unsure?: { user: string; arn: string }[] | undefined;
  keys: {
    slot: 1 | 2;
    active: boolean;
    lastRotated?: Date | undefined;
    lastUsed?: Date | undefined;
    lastUsedRegion?: string | undefined;
    lastUsedService?: string | undefined;
  }[];
}

/**
 * Accepts the CSV itself, or the JSON that `aws iam get-credential-report` prints (Content is
 * base64), so a user can save either.
 */
export function reportText(raw: string, file: string): string {
  const t = raw.replace(/^\uFEFF/, "").trimStart();
  if (t.startsWith("{")) {
    let doc: { Content?: unknown };
    try {
      doc = JSON.parse(t);
    } catch (e) {
      throw new UserError(
        `${file}:1: not a credential report (invalid JSON: ${e instanceof Error ? e.message : e})`,
      );
    }
    if (typeof doc.Content !== "string") throw new UserError(`${file}:1: JSON without a Content field`);
    return Buffer.from(doc.Content, "base64").toString("utf8");
  }
  if (!t.includes(",") && /^[A-Za-z0-9+/=\s]+$/.test(t) && t.length > 0) {
    return Buffer.from(t, "base64").toString("utf8");
  }
  return t;
}

function date(v: string, file: string, line: number, column: string): Date | undefined {
  if (ABSENT.has(v)) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime()))
    throw new UserError(`${file}:${line}: ${column} is not a date: ${JSON.stringify(v)}`);
  return d;
}

function bool(v: string, file: string, line: number, column: string): boolean {
  if (v === "true") return true;
  if (v === "false" || ABSENT.has(v)) return false;
  throw new UserError(`${file}:${line}: ${column} must be true or false, got ${JSON.stringify(v)}`);
}

const text = (v: string | undefined): string | undefined =>
  v === undefined || ABSENT.has(v) ? undefined : v;

/** Parses a credential report; every error names the file and the line. */
export function parseCredentialReport(csv: string, file: string): ReportRow[] {
  let records: string[][];
  try {
    // Rows may be longer than the header: an unquoted user name with commas (see nameAndArn).
    records = parse(csv, { relax_column_count: true, skip_empty_lines: true, trim: true });
  } catch (e) {
    if (!(e instanceof CsvError)) throw e;
    const line = typeof e.lines === "number" ? e.lines : 1;
    throw new UserError(`${file}:${line}: ${e.message.replace(/^Invalid Record Length: /, "")}`);
  }
  const header = records[0];
  if (!header) throw new UserError(`${file}:1: the credential report is empty`);
  const col = new Map(header.map((h, i) => [h, i]));
  const missing = REQUIRED.filter((c) => !col.has(c));
  if (missing.length) throw new UserError(`${file}:1: not a credential report: missing column ${missing[0]}`);
  const hasLogins = LOGIN_COLUMNS.every((c) => col.has(c));

  const rows: ReportRow[] = [];
  const seen = new Map<string, number>();
  let reportAccount: string | undefined;
  for (let i = 1; i < records.length; i++) {
    const rec = records[i]!;
    const line = i + 1;
    const extra = rec.length - header.length;
    // Only user and arn (the first two columns) can hold commas: an unquoted row is longer by
    // their commas, and every later column sits `extra` places further right.
    if (extra < 0 || (extra > 0 && (col.get("user") !== 0 || col.get("arn") !== 1)))
      throw new UserError(`${file}:${line}: expected ${header.length} columns, got ${rec.length}`);
    const get = (c: string) => rec[col.get(c)! + (col.get(c)! > 1 ? extra : 0)] ?? "";
    const warnings: string[] = [];
    const split = nameAndArn(rec, extra);
    const unsure = "candidates" in split ? split.candidates : undefined;
    const user = unsure ? (rec[0] ?? "") : (split as { user: string }).user;
    const arn = unsure ? (unsure.find((c) => c.arn)?.arn ?? "") : (split as { arn: string }).arn;
    // An unsure row belongs where its ARN-looking field says, else to the report's account.
    const account = unsure
      ? (ACCOUNT_OF.exec(rec.slice(0, 2 + extra).find((v) => ACCOUNT_OF.test(v)) ?? "")?.[1] ?? reportAccount)
      : ACCOUNT_OF.exec(arn)?.[1];
    if (!account) throw new UserError(`${file}:${line}: arn is not an IAM ARN: ${JSON.stringify(arn)}`);
    if (extra && !unsure)
      warnings.push(
        `${file}:${line}: unquoted user name with commas, read as ${JSON.stringify(user)} (its ARN ends with it)`,
      );
    if (unsure)
      warnings.push(
        `${file}:${line}: unquoted row whose user name and ARN cannot be told apart (one of ${unsure.map((c) => JSON.stringify(c.user)).join(", ")}); not judged from the report`,
      );
    if (rec.some((v) => v.includes("\uFFFD")))
      warnings.push(`${file}:${line}: invalid UTF-8 (shown as \uFFFD) in the row of ${JSON.stringify(user)}`);
    const keys: ReportRow["keys"] = [];
    for (const slot of [1, 2] as const) {
      const p = `access_key_${slot}_`;
      const active = bool(get(`${p}active`), file, line, `${p}active`);
      const lastRotated = date(get(`${p}last_rotated`), file, line, `${p}last_rotated`);
      // A slot with no creation date and not active holds no key.
      if (!active && !lastRotated) continue;
      keys.push({
        slot,
        active,
        lastRotated,
        lastUsed: date(get(`${p}last_used_date`), file, line, `${p}last_used_date`),
        lastUsedRegion: text(get(`${p}last_used_region`)),
        lastUsedService: text(get(`${p}last_used_service`)),
      });
    }
    const isRoot = user === "<root_account>" || arn.endsWith(":root");
    const login =
      hasLogins && !isRoot
        ? {
            passwordEnabled: bool(get("password_enabled"), file, line, "password_enabled"),
            passwordLastUsed: date(get("password_last_used"), file, line, "password_last_used"),
            passwordLastChanged: date(get("password_last_changed"), file, line, "password_last_changed"),
            mfaActive: bool(get("mfa_active"), file, line, "mfa_active"),
          }
        : undefined;
    const created = date(get("user_creation_time"), file, line, "user_creation_time");
    // The root row names the report's account; a user of another account does not belong here.
    if (isRoot) reportAccount ??= account;
    let skip = Boolean(unsure);
    if (reportAccount && account !== reportAccount && !isRoot) {
      warnings.push(
        `${file}:${line}: user ${JSON.stringify(user)} belongs to account ${account}, not ${reportAccount}; ignored`,
      );
      skip = true;
    }
    const first = seen.get(`${account}/${user}`);
    if (!skip && first !== undefined) {
      warnings.push(
        `${file}:${line}: user ${JSON.stringify(user)} already appears on line ${first}; ignored`,
      );
      skip = true;
    } else if (!skip) seen.set(`${account}/${user}`, line);
    rows.push({
      line,
      user,
      arn,
      account: skip && reportAccount ? reportAccount : account,
      isRoot,
      created,
      login,
      keys,
      ...(warnings.length ? { warnings } : {}),
      ...(skip ? { skip } : {}),
      ...(unsure ? { unsure } : {}),
    });
  }
  return rows;
}

/**
 * The user name and ARN of a row `extra` fields longer than the header (an unquoted name with
 * commas, whose ARN then holds the same commas): the split whose ARN ends with user/…/<name>.
 * IAM names have no slash, so at most one split fits unless the path also holds commas.
 */
function nameAndArn(
  rec: string[],
  extra: number,
): { user: string; arn: string } | { candidates: { user: string; arn: string }[] } {
  if (extra === 0) return { user: rec[0] ?? "", arn: rec[1] ?? "" };
  const head = rec.slice(0, 2 + extra);
  const fits: { user: string; arn: string }[] = [];
  for (let k = 0; k <= extra; k++) {
    const user = head.slice(0, k + 1).join(",");
    const arn = head.slice(k + 1).join(",");
    if (/^arn:aws[\w-]*:iam::\d{12}:user\//.test(arn) && arn.endsWith(`/${user}`)) fits.push({ user, arn });
  }
  const only = fits[0];
  if (fits.length === 1 && only) return only;
  // No ARN fits (a damaged row): every way to read the name, the ARN unknown.
  return {
    candidates: fits.length
      ? fits
      : Array.from({ length: extra + 1 }, (_, k) => ({ user: head.slice(0, k + 1).join(","), arn: "" })),
  };
}

const ACCOUNT_OF = /^arn:aws[\w-]*:iam::(\d{12}):/;

/**
 * Turns report rows into one snapshot per account. Keys have no ids here: the report does not
 * carry them; the AWS source matches them later for the keys that have findings.
 */
export function snapshotsFromReport(
  rows: ReportRow[],
  aliases: Record<string, string | undefined> = {},
): AccountSnapshot[] {
  const byAccount = new Map<string, AccountSnapshot>();
  for (const row of rows) {
    let snap = byAccount.get(row.account);
    if (!snap) {
      const account: AccountRef = { id: row.account, alias: aliases[row.account] };
      snap = {
        account,
        source: "credential-report",
        users: [],
        keys: [],
        root: [],
        complete: true,
        warnings: [],
      };
      byAccount.set(row.account, snap);
    }
    snap.warnings.push(...(row.warnings ?? []));
    // A user the report cannot name is a user not judged: nothing may be resolved on its account.
    if (row.unsure) snap.complete = false;
    if (row.skip) continue;
    if (row.isRoot) {
      snap.root = row.keys.map(
        (k): RootKey => ({
          slot: k.slot,
          active: k.active,
          lastRotated: k.lastRotated,
          lastUsed: k.lastUsed,
        }),
      );
      continue;
    }
    const user: IamUser = {
      account: snap.account,
      name: row.user,
      arn: row.arn,
      createDate: row.created,
      passwordEnabled: row.login?.passwordEnabled,
      passwordLastUsed: row.login?.passwordLastUsed,
      passwordLastChanged: row.login?.passwordLastChanged,
      mfaActive: row.login?.mfaActive,
    };
    snap.users.push(user);
    for (const k of row.keys) {
      if (!k.lastRotated) {
        snap.warnings.push(
          `line ${row.line}: key ${k.slot} of ${row.user} is active but has no creation date`,
        );
        continue;
      }
      const key: AccessKey = {
        account: snap.account,
        user: row.user,
        userArn: row.arn,
        slot: k.slot,
        status: k.active ? "Active" : "Inactive",
        createDate: k.lastRotated,
        lastUsed: k.lastUsed,
        lastUsedRegion: k.lastUsedRegion,
        lastUsedService: k.lastUsedService,
      };
      snap.keys.push(key);
    }
  }
  return [...byAccount.values()];
}
