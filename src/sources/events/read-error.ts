/** A file that could not be read, in one line: damaged gzip archives in plain words. */
export function describeReadError(e: unknown): string {
  const err = e as { code?: string; name?: string; message?: string };
  return err.code === "Z_BUF_ERROR" || /unexpected end of file/i.test(err.message ?? "")
    ? "truncated gzip archive (unexpected end of file)"
    : err.code?.startsWith("Z_")
      ? `corrupt gzip archive (${err.message})`
      : `${err.name && err.name !== "Error" ? `${err.name}: ` : ""}${err.message ?? String(e)}`;
}
