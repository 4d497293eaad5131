import { parseCidr } from "cidr-tools";
import { UserError } from "../errors.js";
import type { AwsApplySettings } from "./apply-config.js";
import { rangeToCidrs } from "./cidr.js";

// The AWS side of an applied allowlist: customer-managed policies that deny every request whose
// source address is outside the list, except calls AWS services make on the principal's behalf
// (aws:ViaAWSService) and, by option, requests through VPC endpoints. Pure: CIDRs in, documents out.
//
// A managed policy holds 6,144 characters (whitespace not counted). A list too long for one is
// split, but not by cutting the list in pieces: "deny unless in piece 1" and "deny unless in piece
// 2" together would deny every address. Each part instead owns a slice of the address space and
// denies what comes from its slice and is not in the list's addresses there; part 1 also denies
// requests with no source address (as the single policy's NotIpAddress does).

export const POLICY_SIZE_LIMIT = 6144;
const MAX = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n } as const;

export interface PolicyPart {
  /** 1-based; part 1 carries the policy name, parts 2… `<name>-2`, … */
  part: number;
  name: string;
  document: string;
  size: number;
}

type Condition = Record<string, Record<string, string | string[]>>;
type Statement = { Sid: string; Effect: "Deny"; Action: "*"; Resource: "*"; Condition: Condition };

/** IAM's count: the document without whitespace. */
export const policySize = (doc: string) => doc.replace(/\s/g, "").length;

export const partName = (s: AwsApplySettings, part: number) =>
  part === 1 ? s.policyName : `${s.policyName}-${part}`;

/** What every deny statement adds: not via an AWS service, not through an allowed VPC endpoint. */
function exemptions(s: AwsApplySettings): Condition {
  const c: Condition = { Bool: { "aws:ViaAWSService": "false" } };
  const v = s.vpcEndpoints;
  if (v.any) c.Null = { "aws:SourceVpc": "true" };
  else {
    if (v.sourceVpcs.length) c.StringNotEqualsIfExists = { "aws:SourceVpc": v.sourceVpcs };
    if (v.vpcSourceIps.length) c.NotIpAddressIfExists = { "aws:VpcSourceIp": v.vpcSourceIps };
  }
  return c;
}

const statement = (sid: string, condition: Condition): Statement => ({
  Sid: sid,
  Effect: "Deny",
  Action: "*",
  Resource: "*",
  Condition: condition,
});

const doc = (statements: Statement[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });

/** The single policy: deny when the source address is not in the list. */
function singleDocument(cidrs: string[], s: AwsApplySettings): string {
  return doc([
    statement("IamwardenDenyOutsideAllowlist", { NotIpAddress: { "aws:SourceIp": cidrs }, ...exemptions(s) }),
  ]);
}

/** Requests with no source address (through a VPC endpoint) in split policies. */
function noSourceStatement(s: AwsApplySettings): Statement {
  const c = exemptions(s);
  return statement("IamwardenDenyWithoutSourceIp", {
    ...c,
    Null: { ...(c.Null ?? {}), "aws:SourceIp": "true" },
  });
}

/** One slice of the address space and the allowed CIDRs inside it. */
function sliceStatement(sid: string, slice: string[], allowed: string[], s: AwsApplySettings): Statement {
  return statement(sid, {
    IpAddress: { "aws:SourceIp": slice },
    ...(allowed.length ? { NotIpAddress: { "aws:SourceIp": allowed } } : {}),
    ...exemptions(s),
  });
}

const startOf = (cidr: string) => parseCidr(cidr).start;

/**
 * Cuts one family's CIDRs into slices whose statement fits `budget` characters: each slice runs
 * from its first CIDR's address (or the family's first) to just before the next slice's.
 */
function slices(
  family: 4 | 6,
  cidrs: string[],
  budget: number,
  s: AwsApplySettings,
): Omit<Statement, "Sid">[] {
  const out: Omit<Statement, "Sid">[] = [];
  const build = (from: bigint, i: number, j: number) => {
    const to = j + 1 < cidrs.length ? startOf(cidrs[j + 1]!) - 1n : MAX[family];
    return sliceStatement("x", rangeToCidrs(family, from, to), cidrs.slice(i, j + 1), s);
  };
  if (!cidrs.length) return [sliceStatement("x", [family === 4 ? "0.0.0.0/0" : "::/0"], [], s)];
  let from = 0n;
  let i = 0;
  while (i < cidrs.length) {
    let j = i;
    if (JSON.stringify(build(from, i, j)).length > budget)
      throw new UserError(`the address ${cidrs[i]} alone does not fit in an IAM policy part`);
    while (j + 1 < cidrs.length && JSON.stringify(build(from, i, j + 1)).length <= budget) j++;
    out.push(build(from, i, j));
    from = j + 1 < cidrs.length ? startOf(cidrs[j + 1]!) : 0n;
    i = j + 1;
  }
  return out;
}

/**
 * The policies that enforce a list: one when it fits, else numbered parts. A list that needs more
 * than `maxPolicies` parts is an error here, before any call is made.
 */
export function allowlistPolicies(cidrs: { v4: string[]; v6: string[] }, s: AwsApplySettings): PolicyPart[] {
  const all = [...cidrs.v4, ...cidrs.v6];
  if (!all.length) throw new UserError("an empty allowlist would deny every request; refusing to build it");
  const single = singleDocument(all, s);
  if (policySize(single) <= POLICY_SIZE_LIMIT)
    return [{ part: 1, name: partName(s, 1), document: single, size: policySize(single) }];

  // Budget per statement: what is left of a part once the envelope and part 1's extra statement are in.
  const envelope = doc([]).length + 1;
  const budget = POLICY_SIZE_LIMIT - envelope - JSON.stringify(noSourceStatement(s)).length - 1 - 60;
  const statements = [...slices(4, cidrs.v4, budget, s), ...slices(6, cidrs.v6, budget, s)];
  const parts: Statement[][] = [[noSourceStatement(s)]];
  for (const st of statements) {
    let current = parts[parts.length - 1]!;
    const withIt = doc([...current, { ...st, Sid: "IamwardenDenyOutsideAllowlist00" }]);
    if (policySize(withIt) > POLICY_SIZE_LIMIT) {
      current = [];
      parts.push(current);
    }
    current.push({ ...st, Sid: `IamwardenDenyOutsideAllowlist${String(current.length).padStart(2, "0")}` });
  }
  if (parts.length > s.maxPolicies)
    throw new UserError(
      `the allowlist needs ${parts.length} IAM policies of ${POLICY_SIZE_LIMIT} characters (${all.length} CIDRs after merging); at most ${s.maxPolicies} are allowed (allowlists.apply.aws.maxPolicies)`,
    );
  return parts.map((st, i) => {
    const d = doc(st);
    return { part: i + 1, name: partName(s, i + 1), document: d, size: policySize(d) };
  });
}

/**
 * A part no longer needed after a list shrank. Detaching it could lock out nobody, but a
 * detach is another change to audit and undo; instead it keeps only part 1's rule for requests
 * without a source address, which every form of the policy already applies.
 */
export function retiredDocument(s: AwsApplySettings): string {
  return doc([noSourceStatement(s)]);
}

/** The allowed CIDRs a policy document names (for drift reports). */
export function allowedIn(document: string | undefined): string[] {
  if (!document) return [];
  try {
    const d = JSON.parse(document) as { Statement?: { Condition?: Condition }[] | { Condition?: Condition } };
    const sts = Array.isArray(d.Statement) ? d.Statement : d.Statement ? [d.Statement] : [];
    return sts.flatMap((st) => {
      const v = st.Condition?.NotIpAddress?.["aws:SourceIp"];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    });
  } catch {
    return [];
  }
}
