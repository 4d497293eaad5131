import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

// Hammer's confirmation, one question per change: y / n / all / quit, no by default.

export type Answer = "yes" | "no" | "all" | "quit";

/** Asks one question; resolves with the answer. */
export type Confirm = (question: string) => Promise<Answer>;

const ANSWERS: Record<string, Answer> = {
  y: "yes",
  yes: "yes",
  n: "no",
  no: "no",
  "": "no",
  a: "all",
  all: "all",
  q: "quit",
  quit: "quit",
};

/**
 * Reads answers line by line from `input`, writing questions to `output`. An answer it does not
 * know is asked again; the end of input is quit (nothing more is done without a yes).
 */
export function promptConfirm(input: Readable, output: Writable): Confirm & { close(): void } {
  const rl = createInterface({ input, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const ask: Confirm = async (question) => {
    for (;;) {
      output.write(`${question} [y/N/all/quit] `);
      const next = await lines.next();
      if (next.done) {
        output.write("\n");
        return "quit";
      }
      const answer = ANSWERS[String(next.value).trim().toLowerCase()];
      if (answer) return answer;
      output.write("please answer y, n, all or quit\n");
    }
  };
  return Object.assign(ask, { close: () => rl.close() });
}
