import type { Cli } from "./io.js";

// Progress bars on stderr, only on a terminal; cli-progress loads only when one is shown.

/** A progress bar over accounts, on a terminal and for more than one account. */
export async function accountBar(cli: Cli, enabled: boolean) {
  if (!enabled || !cli.stderr.isTTY) return undefined;
  const { SingleBar } = await import("cli-progress");
  let bar: InstanceType<typeof SingleBar> | undefined;
  return {
    start(total: number) {
      if (total < 2) return;
      bar = new SingleBar({
        stream: cli.stderr as NodeJS.WritableStream,
        format: "scanning {bar} {value}/{total} accounts {eta_formatted}",
      });
      bar.start(total, 0);
    },
    increment: () => bar?.increment(),
    stop: () => bar?.stop(),
  };
}

/** A progress bar on stderr (bytes and events), only on a terminal. */
export async function replayBar(cli: Cli, enabled: boolean) {
  if (!enabled || !cli.stderr.isTTY) return undefined;
  const { default: cliProgress } = await import("cli-progress");
  const bar = new cliProgress.SingleBar(
    {
      format: "{bar} {percentage}% | {mb}/{totalMb} MB read | {events} events | {files} files | {bad} bad",
      stream: cli.stderr as NodeJS.WritableStream,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let bytes = 0;
  let total = 0;
  const state = { events: 0, files: 0, bad: 0 };
  const mb = (n: number) => (n / 1048576).toFixed(1);
  const render = () => bar.update(bytes, { ...state, mb: mb(bytes), totalMb: total ? mb(total) : "?" });
  bar.start(1, 0, { ...state, mb: "0.0", totalMb: "?" });
  return {
    setTotal(n: number) {
      total = n;
      bar.setTotal(Math.max(n, 1));
      render();
    },
    bytes(n: number) {
      bytes += n;
      if (bytes > total) bar.setTotal(bytes);
      render();
    },
    events(n: number) {
      state.events = n;
      render();
    },
    file(ok: boolean) {
      state.files++;
      if (!ok) state.bad++;
      render();
    },
    stop: () => bar.stop(),
  };
}
