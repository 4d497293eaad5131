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

/** One line: code and message. */
export function describeAwsError(e: unknown): string {
  const code = awsErrorCode(e);
  const msg = (e as Error | undefined)?.message ?? String(e);
  return code && code !== "Error" && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
}
