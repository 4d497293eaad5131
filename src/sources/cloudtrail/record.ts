import { z } from "zod";
import type { EventHeader, EventPrincipal, EventTarget, IamEvent } from "../../model/event.js";

// One CloudTrail record (a log file's Records[i], an EventBridge detail, a LookupEvents
// CloudTrailEvent) → IamEvent. Only the fields read below are validated; the rest stays in `raw`.

const str = z.string().optional();
const identitySchema = z.object({
  type: str,
  principalId: str,
  arn: str,
  accountId: str,
  accessKeyId: str,
  userName: str,
  invokedBy: str,
  sessionContext: z
    .object({
      attributes: z.object({ mfaAuthenticated: str }).partial().optional(),
      sessionIssuer: z.object({ userName: str, arn: str }).partial().optional(),
    })
    .partial()
    .optional(),
});

/** The shape a record must have; used to explain a record the fast path rejected. */
export const cloudTrailRecordSchema = z.object({
  eventTime: z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not a date-time"),
  eventName: z.string().min(1),
  eventSource: z.string().min(1),
  eventID: str,
  awsRegion: str,
  sourceIPAddress: str,
  userAgent: str,
  errorCode: str,
  errorMessage: str,
  recipientAccountId: str,
  userIdentity: identitySchema.optional(),
  requestParameters: z.record(z.string(), z.unknown()).nullish(),
  responseElements: z.record(z.string(), z.unknown()).nullish(),
  additionalEventData: z.record(z.string(), z.unknown()).nullish(),
});

type Rec = Record<string, unknown>;
const isObj = (v: unknown): v is Rec => typeof v === "object" && v !== null && !Array.isArray(v);
const optStr = (v: unknown) => v === undefined || v === null || typeof v === "string";
const s = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Cheap structural check of what the normaliser reads; zod explains failures (hot path: ~1M records/s). */
function looksValid(r: Rec): boolean {
  if (typeof r.eventTime !== "string" || typeof r.eventName !== "string" || typeof r.eventSource !== "string")
    return false;
  if (!optStr(r.sourceIPAddress) || !optStr(r.recipientAccountId) || !optStr(r.errorCode)) return false;
  return (
    optObj(r.userIdentity) &&
    optObj(r.requestParameters) &&
    optObj(r.responseElements) &&
    optObj(r.additionalEventData)
  );
}

const optObj = (v: unknown) => v === undefined || v === null || isObj(v);

/** The decimal number in t[i, i+len), or NaN. */
function digits(t: string, i: number, len: number): number {
  let v = 0;
  for (let k = i; k < i + len; k++) {
    const c = t.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Milliseconds of a record's eventTime, or NaN. CloudTrail writes `YYYY-MM-DDTHH:MM:SSZ`: that
 * shape is read by hand (Date.parse costs more than the rest of a skipped record's handling).
 */
export function eventTimeMs(t: string): number {
  if (
    t.length === 20 &&
    t.charCodeAt(4) === 45 &&
    t.charCodeAt(7) === 45 &&
    t.charCodeAt(10) === 84 &&
    t.charCodeAt(13) === 58 &&
    t.charCodeAt(16) === 58 &&
    t.charCodeAt(19) === 90
  ) {
    const mo = digits(t, 5, 2);
    const d = digits(t, 8, 2);
    const h = digits(t, 11, 2);
    const mi = digits(t, 14, 2);
    const sec = digits(t, 17, 2);
    if (mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60)
      return Date.UTC(digits(t, 0, 4), mo - 1, d, h, mi, sec);
    return Number.NaN;
  }
  return Date.parse(t);
}

/** A record the normaliser can read, checked cheaply (for filters that look at raw records). */
export function isReadableRecord(r: unknown): r is Record<string, unknown> {
  return isObj(r) && looksValid(r);
}

/** Why a record cannot be read, in one line. */
export function explainBadRecord(r: unknown): string {
  if (!isObj(r))
    return `a CloudTrail record is a JSON object, not ${Array.isArray(r) ? "an array" : typeof r}`;
  const parsed = cloudTrailRecordSchema.safeParse(r);
  if (parsed.success) return "unreadable CloudTrail record";
  const issue = parsed.error.issues[0]!;
  return `${issue.path.join(".") || "record"}: ${issue.message}`;
}

// `iam.amazonaws.com` → `iam`; computed once per distinct event source.
const servicePrefix = new Map<string, string>();
function service(eventSource: string): string {
  let p = servicePrefix.get(eventSource);
  if (p === undefined) {
    p = eventSource.endsWith(".amazonaws.com") ? eventSource.slice(0, -".amazonaws.com".length) : eventSource;
    if (servicePrefix.size < 10_000) servicePrefix.set(eventSource, p);
  }
  return p;
}

// `iam.amazonaws.com` + `CreateUser` → `iam:CreateUser`, without a new string per record.
const actionNames = new Map<string, Map<string, string>>();
function actionOf(eventSource: string, eventName: string): string {
  let names = actionNames.get(eventSource);
  if (!names) {
    names = new Map();
    if (actionNames.size < 1_000) actionNames.set(eventSource, names);
  }
  let a = names.get(eventName);
  if (a === undefined) {
    a = `${service(eventSource)}:${eventName}`;
    if (names.size < 10_000) names.set(eventName, a);
  }
  return a;
}

/**
 * What pre-filters read of a record, without normalising it; undefined when the record is not
 * readable (fromCloudTrailRecord then says why). The same values fromCloudTrailRecord would give.
 */
export function cloudTrailHeader(r: unknown, fallbackAccount?: string): EventHeader | undefined {
  if (!isObj(r) || !looksValid(r)) return undefined;
  const id = isObj(r.userIdentity) ? r.userIdentity : undefined;
  const eventName = r.eventName as string;
  return {
    provider: "aws",
    kind: eventName === "ConsoleLogin" ? "console-login" : "api-call",
    action: actionOf(r.eventSource as string, eventName),
    principalType: id ? (s(id.type) ?? "Unknown") : "Unknown",
    sourceIp: s(r.sourceIPAddress),
    invokedBy: s(id?.invokedBy),
    // "" says no key signed the call (a console login, a call AWS made): not an unknown key.
    accessKeyId: typeof id?.accessKeyId === "string" ? id.accessKeyId : "",
    account: s(r.recipientAccountId) ?? s(id?.accountId) ?? fallbackAccount,
  };
}

function principalOf(id: Rec | undefined, eventName: string, extra: Rec | undefined): EventPrincipal {
  if (!id) return { type: "Unknown" };
  const type = s(id.type) ?? "Unknown";
  const ctx = isObj(id.sessionContext) ? id.sessionContext : undefined;
  const issuer = ctx && isObj(ctx.sessionIssuer) ? ctx.sessionIssuer : undefined;
  const attrs = ctx && isObj(ctx.attributes) ? ctx.attributes : undefined;
  const arn = s(id.arn);
  let name: string | undefined;
  switch (type) {
    case "IAMUser":
      name = s(id.userName);
      break;
    case "Root":
      name = "root";
      break;
    case "AssumedRole":
      // arn:aws:sts::123456789012:assumed-role/Role/session → Role/session
      name = arn ? arn.slice(arn.indexOf("/") + 1) : s(issuer?.userName);
      break;
    case "FederatedUser":
      name = s(issuer?.userName) ?? s(id.userName);
      break;
    case "AWSService":
      name = s(id.invokedBy);
      break;
    default:
      name = s(id.userName) ?? s(issuer?.userName);
  }
  const mfa =
    eventName === "ConsoleLogin" && extra && typeof extra.MFAUsed === "string"
      ? extra.MFAUsed === "Yes"
      : typeof attrs?.mfaAuthenticated === "string"
        ? attrs.mfaAuthenticated === "true"
        : undefined;
  return {
    type,
    name,
    arn,
    id: s(id.principalId),
    accessKeyId: s(id.accessKeyId),
    mfa,
    sessionIssuer: s(issuer?.arn),
    invokedBy: s(id.invokedBy),
  };
}

function targetOf(p: unknown): EventTarget {
  if (!isObj(p)) return {};
  const t: EventTarget = {};
  if (typeof p.userName === "string") t.user = p.userName;
  if (typeof p.groupName === "string") t.group = p.groupName;
  if (typeof p.roleName === "string") t.role = p.roleName;
  if (typeof p.policyName === "string") t.policyName = p.policyName;
  if (typeof p.policyArn === "string") t.policyArn = p.policyArn;
  return t;
}

/**
 * Normalises one CloudTrail record. Returns a string (why) when the record cannot be read.
 * `fallbackAccount` is used when the record names no account (the envelope or file knows it).
 */
export function fromCloudTrailRecord(r: unknown, fallbackAccount?: string): IamEvent | string {
  if (!isObj(r) || !looksValid(r)) return explainBadRecord(r);
  const t = eventTimeMs(r.eventTime as string);
  if (Number.isNaN(t)) return `eventTime: not a date-time: ${String(r.eventTime)}`;
  const eventName = r.eventName as string;
  const id = isObj(r.userIdentity) ? r.userIdentity : undefined;
  const extra = isObj(r.additionalEventData) ? r.additionalEventData : undefined;
  const account = s(r.recipientAccountId) ?? s(id?.accountId) ?? fallbackAccount;
  if (!account) return "no account: neither recipientAccountId nor userIdentity.accountId is set";
  const login = eventName === "ConsoleLogin";
  const response = isObj(r.responseElements) ? r.responseElements : undefined;
  const errorCode = s(r.errorCode);
  const outcome = login
    ? response?.ConsoleLogin === "Success"
      ? "success"
      : "failure"
    : errorCode
      ? "failure"
      : "success";
  return {
    time: new Date(t),
    account,
    provider: "aws",
    kind: login ? "console-login" : "api-call",
    action: actionOf(r.eventSource as string, eventName),
    principal: principalOf(id, eventName, extra),
    sourceIp: s(r.sourceIPAddress) ?? "",
    userAgent: s(r.userAgent),
    outcome,
    errorCode,
    errorMessage: s(r.errorMessage),
    region: s(r.awsRegion),
    eventId: s(r.eventID) ?? s(r.requestID) ?? `${r.eventTime as string}|${eventName}|${account}`,
    target: targetOf(r.requestParameters),
    raw: r,
  };
}
