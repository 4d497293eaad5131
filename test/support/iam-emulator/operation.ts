import type { EmuAccount, EmuPrincipal, EmuState } from "./state.js";

// What an emulated operation is. Operations live in read-ops.ts / write-ops.ts as plain objects;
// the server finds them by (protocol, action) and renders what they return.

export interface OpContext {
  state: EmuState;
  /** The account the signing credentials belong to. */
  account: EmuAccount;
  principal: EmuPrincipal;
  now: Date;
  settings: OpSettings;
}

/** Server options that operations honour. */
export interface OpSettings {
  /** IAM list calls return at most this many items whatever MaxItems asks (IAM may do so). */
  pageCap?: number | undefined;
  /** How long a credential report takes to generate. */
  reportDelayMs: number;
  /** Organizations ListAccounts page size when MaxResults is not given. */
  orgPageSize: number;
}

/** AWS query protocol (IAM, STS): form parameters in, `<ActionResult>` contents out. */
export interface QueryOperation {
  protocol: "query";
  /** The SigV4 signing name the SDK uses for this service. */
  service: "iam" | "sts";
  action: string;
  version: string;
  /** Parameters the API reference marks Required. */
  required?: string[];
  /**
   * Returns the contents of `<ActionResult>` (undefined for actions that return none). Arrays
   * render as `<member>` lists, Dates as ISO 8601 seconds, booleans as true/false.
   */
  handle(params: Record<string, string>, ctx: OpContext): Record<string, unknown> | undefined;
}

/** AWS JSON 1.1 protocol (Organizations): `X-Amz-Target: Prefix.Action`, JSON in and out. */
export interface JsonOperation {
  protocol: "json";
  service: "organizations";
  /** The full X-Amz-Target value. */
  target: string;
  required?: string[];
  /** Dates render as epoch seconds, as the JSON protocol sends timestamps. */
  handle(body: Record<string, unknown>, ctx: OpContext): Record<string, unknown>;
}

export type Operation = QueryOperation | JsonOperation;

/** An AWS error to answer with: query protocol code (`NoSuchEntity`), HTTP status, fault type. */
export interface AwsErrorSpec {
  code: string;
  message: string;
  status?: number;
  type?: "Sender" | "Receiver";
}

export class EmuAwsError extends Error {
  constructor(readonly spec: AwsErrorSpec) {
    super(spec.message);
  }
}

export function awsError(
  code: string,
  message: string,
  status = 400,
  type: "Sender" | "Receiver" = "Sender",
) {
  return new EmuAwsError({ code, message, status, type });
}

export const noSuchEntity = (what: string) => awsError("NoSuchEntity", `The ${what} cannot be found.`, 404);

/** Items of a query list parameter: `Name.member.1`, `Name.member.2`, … */
export function memberList(params: Record<string, string>, name: string): string[] {
  const out: string[] = [];
  for (let i = 1; params[`${name}.member.${i}`] !== undefined; i++) out.push(params[`${name}.member.${i}`]!);
  return out;
}

/**
 * IAM list paging: `Marker` is opaque (here the base64 offset), `MaxItems` 1–1000 (default 100).
 * `cap` lets a test make the server return fewer items than asked, as IAM documents it may.
 */
export function page<T>(
  items: T[],
  params: Record<string, string>,
  cap?: number,
): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const max = params.MaxItems === undefined ? 100 : Number(params.MaxItems);
  if (!Number.isInteger(max) || max < 1 || max > 1000)
    throw awsError(
      "ValidationError",
      `1 validation error detected: Value '${params.MaxItems}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000`,
    );
  let start = 0;
  if (params.Marker !== undefined) {
    start = Number(
      Buffer.from(params.Marker, "base64")
        .toString("utf8")
        .replace(/^offset:/, ""),
    );
    if (!Number.isInteger(start) || start < 0) throw awsError("InvalidParameterValue", "Invalid Marker.");
  }
  const size = Math.min(max, cap ?? max);
  const slice = items.slice(start, start + size);
  const next = start + slice.length;
  return next < items.length
    ? { items: slice, IsTruncated: true, Marker: Buffer.from(`offset:${next}`).toString("base64") }
    : { items: slice, IsTruncated: false };
}
