import type { EmuAccount, EmuKeyLastUsed } from "./state.js";

// The IAM credential report as AWS writes it: 22 columns, ISO dates with +00:00, and the
// placeholders N/A / no_information / not_supported where AWS uses them.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html

export const REPORT_COLUMNS = [
  "user",
  "arn",
  "user_creation_time",
  "password_enabled",
  "password_last_used",
  "password_last_changed",
  "password_next_rotation",
  "mfa_active",
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
  "cert_1_active",
  "cert_1_last_rotated",
  "cert_2_active",
  "cert_2_last_rotated",
] as const;

const reportDate = (d: Date | undefined, none = "N/A") =>
  d ? d.toISOString().replace(/\.\d{3}Z$/, "+00:00") : none;

interface Slot {
  active: boolean;
  createDate?: Date | undefined;
  lastUsed?: EmuKeyLastUsed | undefined;
}

function keyColumns(k: Slot | undefined): string[] {
  if (!k) return ["false", "N/A", "N/A", "N/A", "N/A"];
  const used = k.lastUsed?.date;
  return [
    String(k.active),
    reportDate(k.createDate),
    reportDate(used),
    used ? (k.lastUsed?.region ?? "N/A") : "N/A",
    used ? (k.lastUsed?.service ?? "N/A") : "N/A",
  ];
}

/** IAM user names allow `,` (and `=`, `+`, `@`): quote a field when it needs it. */
const csvField = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function credentialReportCsv(acct: EmuAccount, partition: string): string {
  const rows: string[][] = [];
  const root = acct.rootKeys;
  rows.push([
    "<root_account>",
    `arn:${partition}:iam::${acct.id}:root`,
    reportDate(acct.createDate),
    "not_supported",
    "no_information",
    "not_supported",
    "not_supported",
    String(acct.rootMfa),
    ...keyColumns(root[0]),
    ...keyColumns(root[1]),
    "false",
    "N/A",
    "false",
    "N/A",
  ]);
  for (const u of acct.users.values()) {
    // access_key_1 is the older key, as in AWS's report.
    const keys = [...u.keys].sort((a, b) => a.createDate.getTime() - b.createDate.getTime());
    const slot = (i: number): Slot | undefined => {
      const k = keys[i];
      return k && { active: k.status === "Active", createDate: k.createDate, lastUsed: k.lastUsed };
    };
    rows.push([
      u.name,
      u.arn,
      reportDate(u.createDate),
      String(u.passwordEnabled),
      u.passwordEnabled ? reportDate(u.passwordLastUsed, "no_information") : "N/A",
      u.passwordEnabled ? reportDate(u.passwordLastChanged) : "N/A",
      "N/A",
      String(u.mfaActive),
      ...keyColumns(slot(0)),
      ...keyColumns(slot(1)),
      "false",
      "N/A",
      "false",
      "N/A",
    ]);
  }
  return `${[REPORT_COLUMNS.join(","), ...rows.map((r) => r.map(csvField).join(","))].join("\n")}\n`;
}
