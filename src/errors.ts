/**
 * An error the user can fix (bad input, bad flag, unknown account). The CLI prints its message
 * as one line and exits with EXIT.error; anything else is a bug and prints a stack with --debug.
 */
export class UserError extends Error {
  override readonly name = "UserError";
}

export const EXIT = {
  ok: 0,
  /** Findings at or above --fail-on. */
  findings: 1,
  /** Bad input, or an account that could not be read. */
  error: 2,
  /** Some accounts or inputs failed; the others were processed. */
  partial: 3,
} as const;
