import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { main } from "../../src/cli/main.js";

const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Variables for the child: the AWS SDK reads process.env, so these run in a child process. */
  env?: Record<string, string>;
  input?: string;
  /** Run as a child process even without cwd or env (signals, pipes, process exit). */
  spawn?: boolean;
}

/** A stream that keeps what is written to it. */
export function captured(isTTY = false): { stream: Writable & { isTTY: boolean }; text(): string } {
  let text = "";
  const stream = Object.assign(
    new Writable({
      decodeStrings: false,
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => text };
}

/**
 * Runs the CLI as a user would, in this process (its streams injected): the same code path as the
 * binary, without a second's start-up per call. With cwd, env or spawn it runs as a child process.
 */
export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  if (opts.cwd || opts.env || opts.spawn) return spawnCli(args, opts);
  const stdout = captured();
  const stderr = captured();
  const stdin = Object.assign(new PassThrough(), { isTTY: false });
  stdin.end(opts.input ?? "");
  const code = await main(["node", "iamwarden", ...args], {
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** Runs the real CLI (TypeScript through tsx) as a child process. */
export function spawnCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: "1", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}
