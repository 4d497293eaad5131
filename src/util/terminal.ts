// Names come from credential reports and audit logs an attacker may have written: an IAM user
// name or a user agent can carry escape sequences that recolour a terminal, set its title or hide
// text. Human-readable output shows such characters as visible escapes instead.

// C0 and C1 controls, DEL, and the bidirectional overrides that reorder text on screen.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const visible = (c: string) => {
  const code = c.codePointAt(0)!;
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
};

/** One line of text safe to print: every control character shown as \xNN (\n and \t too). */
export function safeText(s: string): string {
  return s.replace(UNSAFE, visible);
}

/** Multi-line text safe to print: line breaks kept, every other control character shown. */
export function safeLines(s: string): string {
  return s.replace(UNSAFE, (c) => (c === "\n" ? c : visible(c)));
}
