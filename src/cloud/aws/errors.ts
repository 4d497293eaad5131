// Recognising AWS errors by code. Query-protocol services report the wire code (`NoSuchEntity`)
// in `Code` and the modelled exception name (`NoSuchEntityException`) in `name`; unmodelled
// errors (AccessDenied, Throttling) carry the wire code in both.

export function awsErrorCode(e: unknown): string | undefined {
  const err = e as { name?: string; Code?: string; Error?: { Code?: string } } | undefined;
  return err?.Code ?? err?.Error?.Code ?? err?.name;
}

const is =
  (...codes: string[]) =>
  (e: unknown): boolean => {
    const err = e as { name?: string } | undefined;
    const code = awsErrorCode(e);
    return codes.some((c) => c === code || c === err?.name);
  };

export const isNoSuchEntity = is("NoSuchEntity", "NoSuchEntityException");
export const isAccessDenied = is("AccessDenied", "AccessDeniedException", "UnauthorizedOperation");
export const isLimitExceeded = is("LimitExceeded", "LimitExceededException");
/** GetCredentialReport: no report, an expired one, or one still being generated. */
export const isReportNotReady = is(
  "ReportNotPresent",
  "ReportExpired",
  "ReportInProgress",
  "CredentialReportNotPresentException",
  "CredentialReportExpiredException",
  "CredentialReportNotReadyException",
);

/** What describeAwsError may name to make an error actionable. */
export interface AwsErrorHints {
  /** The custom endpoint in use (aws.endpoint or AWS_ENDPOINT_URL). */
  endpoint?: string | undefined;
  /** The profile the SDK tried (aws.profile or AWS_PROFILE). */
  profile?: string | undefined;
}

// Which bundled policy grants an action, for "access denied" hints.
const POLICY_OF: [RegExp, string][] = [
  [
    /^iam:(UpdateAccessKey|DeleteAccessKey|.*UserPolic(y|ies)|CreatePolicy.*|GetPolicy.*|SetDefaultPolicyVersion|DeletePolicyVersion)$/,
    "policy/iamwarden-remediate.json",
  ],
  [/^organizations:/, "policy/iamwarden-organizations.json"],
  [
    /^sts:AssumeRole$/,
    "policy/trust-policy.json (in the target account) and policy/iamwarden-organizations.json",
  ],
  [/^(iam|cloudtrail|s3):/, "policy/iamwarden-audit.json"],
];

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
]);

/**
 * One line in plain words: what went wrong and what to do. No credentials, an unknown profile, an
 * unreachable endpoint and a missing permission each name the thing to fix; anything else is the
 * service's code and message.
 */
export function describeAwsError(e: unknown, hints: AwsErrorHints = {}): string {
  const code = awsErrorCode(e);
  const err = e as (Error & { code?: string; cause?: { code?: string } }) | undefined;
  const msg = (err?.message ?? String(e)).split("\n")[0]!;
  const profile = hints.profile ? `profile "${hints.profile}"` : "the default profile";

  const missingProfile =
    /^Profile (\S+) could not be found/i.exec(msg) ??
    /using profile: \[([^\]]+)\]/i.exec(msg) ??
    /profile (\S+) (was )?not found/i.exec(msg);
  if (missingProfile)
    return `unknown AWS profile ${missingProfile[1]}: not in ~/.aws/config or ~/.aws/credentials (set aws.profile or AWS_PROFILE to one that exists)`;
  if (err?.name === "CredentialsProviderError" || /Could not load credentials/i.test(msg))
    return `no AWS credentials found (tried the environment, ${profile}, SSO and instance roles): run \`aws configure\` or \`aws sso login\`, or set AWS_PROFILE`;

  const net =
    err?.code ??
    err?.cause?.code ??
    (/(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH)/.exec(msg)?.[1] as string | undefined);
  if (net && NETWORK_CODES.has(net))
    return hints.endpoint
      ? `cannot reach the AWS endpoint ${hints.endpoint} (${net}): check aws.endpoint in the config or AWS_ENDPOINT_URL`
      : `cannot reach AWS (${net}): check the network, a proxy, or AWS_ENDPOINT_URL`;

  if (isAccessDenied(e)) {
    const action = /perform:? ([a-z0-9-]+:[A-Za-z0-9]+)/.exec(msg)?.[1];
    if (action) {
      const policy = POLICY_OF.find(([re]) => re.test(action))?.[1];
      return `access denied: the role lacks ${action}${policy ? ` (granted by ${policy})` : ""}`;
    }
  }
  return code && code !== "Error" && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
}
