import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type SeedOptions, type SeedSummary, seedUsers } from "./seed.js";
import { type EmulatorOptions, startIamEmulator } from "./server.js";
import { createState } from "./state.js";

// The emulator in a child process, so that a benchmark measures the scanner's CPU and memory and
// not the fake AWS's. The parent talks to it over IPC: counters, resets, option changes.

export type ChildOptions = Omit<EmulatorOptions, "state" | "fault" | "operations" | "clock"> & {
  seed?: SeedOptions;
};

export interface CallSnapshot {
  total: number;
  throttled: number;
  byAction: Record<string, number>;
}

type Request =
  | { id: number; type: "calls" | "reset" | "close" }
  | { id: number; type: "set"; options: ChildOptions };
type Reply = { id: number; calls?: CallSnapshot };
type Ready = { ready: true; url: string; seeded?: SeedSummary };

export interface EmulatorChild {
  url: string;
  seeded?: SeedSummary | undefined;
  calls(): Promise<CallSnapshot>;
  reset(): Promise<void>;
  set(options: ChildOptions): Promise<void>;
  close(): Promise<void>;
}

/** Starts the emulator in a child process (same loader as this one: tsx or compiled JS). */
export async function forkIamEmulator(options: ChildOptions): Promise<EmulatorChild> {
  const self = fileURLToPath(import.meta.url);
  const child: ChildProcess = fork(self, ["--iam-emulator-child"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    // Structured clone keeps Dates (seed.now) intact.
    serialization: "advanced",
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once("message", (m) => resolve(m as Ready));
    child.once("exit", (code) => reject(new Error(`emulator child exited with ${code}`)));
    child.send(options);
  });
  let next = 0;
  const ask = (req: Omit<Request, "id">) =>
    new Promise<Reply>((resolve) => {
      const id = ++next;
      const onMessage = (m: Reply) => {
        if (m.id !== id) return;
        child.off("message", onMessage);
        resolve(m);
      };
      child.on("message", onMessage);
      child.send({ ...req, id });
    });
  return {
    url: ready.url,
    seeded: ready.seeded,
    calls: async () => (await ask({ type: "calls" })).calls!,
    reset: async () => void (await ask({ type: "reset" })),
    set: async (o) => void (await ask({ type: "set", options: o } as Omit<Request, "id">)),
    close: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      await ask({ type: "close" });
      await exited;
    },
  };
}

async function runChild(): Promise<void> {
  const options = await new Promise<ChildOptions>((resolve) =>
    process.once("message", (m) => resolve(m as ChildOptions)),
  );
  const state = createState();
  const seeded = options.seed ? seedUsers(state, state.homeAccount, options.seed) : undefined;
  const emu = await startIamEmulator({ ...options, state });
  process.on("message", async (m: Request) => {
    if (m.type === "calls") {
      const { total, throttled, byAction } = emu.calls;
      process.send?.({ id: m.id, calls: { total, throttled, byAction: { ...byAction } } } satisfies Reply);
    } else if (m.type === "reset") {
      emu.calls.reset();
      process.send?.({ id: m.id } satisfies Reply);
    } else if (m.type === "set") {
      Object.assign(emu.options, m.options);
      process.send?.({ id: m.id } satisfies Reply);
    } else if (m.type === "close") {
      await emu.close();
      process.send?.({ id: m.id } satisfies Reply, () => process.exit(0));
    }
  });
  process.send?.({ ready: true, url: emu.url, seeded } satisfies Ready);
}

if (process.argv.includes("--iam-emulator-child")) await runChild();
