import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

// `iamwarden serve` as a child process, as an operator runs it: its JSON log lines are collected,
// its URL read from the "serving" line, and it is stopped with a signal.

const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A JSON answer, read loosely by assertions. */
// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON documents
export type Json = any;
export type JsonResponse = Omit<Response, "json"> & { json(): Promise<Json> };

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  logs: LogLine[];
  stderr(): string;
  /** Waits for a log line that matches. */
  waitFor(match: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<JsonResponse>;
}

export const TOKEN = "test-token-0123456789abcdef";

export const AWS_ENV = {
  AWS_ACCESS_KEY_ID: "AKIAEXAMPLEEXAMPLE07",
  AWS_SECRET_ACCESS_KEY: "secret",
  AWS_REGION: "us-east-1",
};

export async function waitUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startServe(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, "serve", "--log-level", "debug", ...args], {
    env: { ...process.env, ...AWS_ENV, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let raw = "";
  let carry = "";
  const logs: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; done: (l: LogLine) => void }[] = [];
  child.stderr!.on("data", (d: Buffer) => {
    raw += d;
    const parts = (carry + d.toString()).split("\n");
    carry = parts.pop() ?? "";
    for (const p of parts) {
      let l: LogLine;
      try {
        l = JSON.parse(p) as LogLine;
      } catch {
        continue;
      }
      logs.push(l);
      for (const w of [...waiters])
        if (w.match(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.done(l);
        }
    }
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const waitFor = (match: (l: LogLine) => boolean, timeoutMs = 60_000) =>
    new Promise<LogLine>((res, rej) => {
      const hit = logs.find(match);
      if (hit) return res(hit);
      const t = setTimeout(
        () => rej(new Error(`timed out waiting for a log line; stderr:\n${raw.slice(-3000)}`)),
        timeoutMs,
      );
      waiters.push({
        match,
        done: (l) => {
          clearTimeout(t);
          res(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(t);
        rej(new Error(`serve exited with ${code}; stderr:\n${raw.slice(-3000)}`));
      });
    });
  const serving = await waitFor((l) => l.msg === "serving");
  const url = String(serving.url);
  return {
    url,
    child,
    logs,
    stderr: () => raw,
    waitFor,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
    api(path, init = {}) {
      const { token = TOKEN, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      return fetch(`${url}${path}`, { ...rest, headers });
    },
  };
}
