import { z } from "zod";

// `allowlists.apply`: how the lists of `checks.source-ip` are enforced in the accounts. Which lists
// an account gets comes from checks.source-ip (accounts[id], else default); this says how.

const cidrOrIp = z.string().min(1);

export const awsApplySettings = z
  .object({
    enabled: z.boolean().default(true),
    /** The customer-managed policy; when the list must be split, parts 2… are `<name>-2`, … */
    policyName: z
      .string()
      .regex(/^[\w+=,.@-]{1,120}$/, "an IAM policy name: letters, digits and +=,.@_-")
      .default("iamwarden-source-ip"),
    path: z
      .string()
      .regex(/^\/([\w+=,.@-]+\/)*$/, "an IAM path such as / or /security/")
      .default("/"),
    /** Principals the policy is attached to, by name. */
    attach: z
      .object({
        groups: z.array(z.string()).default([]),
        users: z.array(z.string()).default([]),
        roles: z.array(z.string()).default([]),
      })
      .strict()
      .default({ groups: [], users: [], roles: [] }),
    /** Requests through VPC endpoints carry no public source address; these are let through. */
    vpcEndpoints: z
      .object({
        /** Every request through any VPC endpoint. */
        any: z.boolean().default(false),
        /** Requests through these VPCs (aws:SourceVpc). */
        sourceVpcs: z.array(z.string().regex(/^vpc-[0-9a-f]+$/, "a VPC id (vpc-…)")).default([]),
        /** Requests from these private addresses in a VPC (aws:VpcSourceIp). */
        vpcSourceIps: z.array(cidrOrIp).default([]),
      })
      .strict()
      .default({ any: false, sourceVpcs: [], vpcSourceIps: [] }),
    /** Most numbered policies a list may be split into (IAM attaches 10 managed policies per principal). */
    maxPolicies: z.number().int().min(1).max(10).default(4),
  })
  .strict();

export const ibmApplySettings = z
  .object({
    enabled: z.boolean().default(true),
    apiKey: z.string().min(1),
    /** IBM Cloud account ids the lists are applied to (32 hex digits). */
    accounts: z.array(z.string().regex(/^[0-9a-f]{32}$/, "an IBM Cloud account id is 32 hex digits")).min(1),
    /** Token endpoint host; private endpoints and tests differ. */
    iamUrl: z.url().default("https://iam.cloud.ibm.com"),
    /** Where /v1/accounts/{id}/settings/identity is served. */
    settingsUrl: z.url().default("https://iam.cloud.ibm.com"),
    timeoutMs: z.number().int().min(100).default(15_000),
  })
  .strict();

export const allowlistApplySettings = z
  .object({
    /** The address iamwarden calls from; else discovered through selfIpUrl. */
    selfIp: z.string().optional(),
    /** An echo service answering the caller's address as text. */
    selfIpUrl: z.url().optional(),
    /** Addresses every applied list must contain (the VPN, the break-glass bastion). */
    mustAllow: z.array(z.string()).default([]),
    /** Allow a list that allows every address (0.0.0.0/0, ::/0): that turns the control off. */
    allowOpen: z.boolean().default(false),
    /** Accounts (AWS or IBM) never changed. */
    exclude: z.array(z.string()).default([]),
    aws: awsApplySettings.optional(),
    ibm: ibmApplySettings.optional(),
  })
  .strict();

export type AllowlistApplySettings = z.infer<typeof allowlistApplySettings>;
export type AwsApplySettings = z.infer<typeof awsApplySettings>;
export type IbmApplySettings = z.infer<typeof ibmApplySettings>;

export const allowlistsSchema = z.object({ apply: allowlistApplySettings.optional() }).strict().default({});
