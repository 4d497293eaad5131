import type { Readable, Writable } from "node:stream";
import type { Command } from "commander";

/** An output stream as the CLI uses it: written to, and asked whether it is a terminal (and how wide). */
export type OutStream = Writable & { isTTY?: boolean | undefined; columns?: number | undefined };

/** What a command reads and writes, injected so tests run the CLI in process. */
export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  stdin: Readable & { isTTY?: boolean | undefined };
  env: Record<string, string | undefined>;
}

/** One invocation: its streams and the exit code the commands settle on. */
export interface Cli extends CliIo {
  exitCode: number;
}

/** This process's streams and environment. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/** Registers every command on `program`: for a command that lists them all (completion). */
export type RegisterAll = (program: Command) => Promise<void>;
