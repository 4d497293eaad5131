// JSON errors in one line, with the line they are on.

/** Line (1-based) of a JSON.parse error, from "at position N" or "(line L column C)". */
export function syntaxErrorLine(text: string, message: string): number | undefined {
  const lc = /line (\d+) column/.exec(message);
  if (lc) return Number(lc[1]);
  const pos = /at position (\d+)/.exec(message);
  if (!pos) return undefined;
  let line = 1;
  const end = Math.min(Number(pos[1]), text.length);
  for (let i = text.indexOf("\n"); i >= 0 && i < end; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

export function describeJsonError(e: unknown): string {
  const msg = (e as Error).message ?? String(e);
  if (/Unexpected end of JSON input/.test(msg)) return "truncated JSON (unexpected end of input)";
  return `invalid JSON: ${msg.split("\n")[0]}`;
}
