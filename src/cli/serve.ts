import { type Command, Option } from "commander";
import { requireSections } from "../config/load.js";
import { UserError } from "../errors.js";
import { type GlobalOptions, settings } from "./context.js";
import type { Cli } from "./io.js";

// `iamwarden serve`: the service in the foreground. Logs are JSON lines on stderr; SIGTERM or
// SIGINT stops it cleanly (exit 0), or after serve.shutdownSeconds gives up what is left (exit 1:
// SQS messages and outbox leases not finished become due again by themselves).

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"];

export function register(program: Command, cli: Cli): void {
  program
    .command("serve")
    .description("run the schedule, take events from SQS and HTTP, serve /metrics, the API and the dashboard")
    .addOption(
      new Option("--log-level <level>", "least severe log level written").choices(LEVELS).default("info"),
    )
    .option("--listen <host:port>", "address to listen on (overrides serve.listen)")
    .action(async (opts: { logLevel: string; listen?: string }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const s = settings(cli, globals);
      // A service writes, notifies and remediates: a what-if service makes no sense.
      if (s.whatIf)
        throw new UserError(
          "serve --now starts the service's clock at that time and runs for real: add --commit",
        );
      requireSections(s.loaded, [""]);
      const [{ pino }, { startService }, { offsetClock, systemClock }] = await Promise.all([
        import("pino"),
        import("../server/service.js"),
        import("../server/clock.js"),
      ]);
      const log = pino(
        { level: opts.logLevel, base: { name: "iamwarden" }, timestamp: pino.stdTimeFunctions.isoTime },
        cli.stderr,
      );
      const loaded = opts.listen
        ? {
            ...s.loaded,
            config: { ...s.loaded.config, serve: { ...s.loaded.config.serve, listen: opts.listen } },
          }
        : s.loaded;
      // --now: the service's clock starts at that time and runs on from there.
      const clock = globals.now ? offsetClock(s.now) : systemClock;
      const service = await startService({
        loaded,
        storeLocation: s.storeLocation,
        clock,
        log,
        actor: s.actor,
        showKeyIds: s.showKeyIds,
      });
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, "signal received");
          resolve();
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      const budget = loaded.config.serve.shutdownSeconds * 1000;
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        service.stop().then(() => "stopped" as const),
        new Promise<"timeout">((r) => {
          timer = setTimeout(() => r("timeout"), budget);
        }),
      ]).catch((e: Error) => {
        log.error({ err: e.message }, "stop failed");
        return "failed" as const;
      });
      clearTimeout(timer);
      if (outcome !== "stopped")
        log.error(
          { outcome },
          "stopped before all work in hand was finished; it is released and retried later",
        );
      cli.exitCode = outcome === "stopped" ? 0 : 1;
      // Keep-alive sockets of SDK clients may linger: the work is done, so do not wait for them.
      setTimeout(() => process.exit(cli.exitCode), 1000).unref();
    });
}
