import { type Command, Option } from "commander";
import { context, type GlobalOptions } from "./context.js";

// `iamwarden serve`: the service in the foreground. Logs are JSON lines on stderr; SIGTERM or
// SIGINT stops it cleanly (exit 0), or after serve.shutdownSeconds gives up what is left (exit 1:
// SQS messages and outbox leases not finished become due again by themselves).

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"];

export function register(program: Command): void {
  program
    .command("serve")
    .description("run the schedule, take events from SQS and HTTP, serve /metrics, the API and the dashboard")
    .addOption(
      new Option("--log-level <level>", "least severe log level written").choices(LEVELS).default("info"),
    )
    .option("--listen <host:port>", "address to listen on (overrides serve.listen)")
    .action(async (opts: { logLevel: string; listen?: string }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const ctx = context(globals);
      const [{ pino }, { startService }, { offsetClock, systemClock }] = await Promise.all([
        import("pino"),
        import("../server/service.js"),
        import("../server/clock.js"),
      ]);
      const log = pino(
        { level: opts.logLevel, base: { name: "iamwarden" }, timestamp: pino.stdTimeFunctions.isoTime },
        pino.destination({ fd: 2, sync: true }),
      );
      const loaded = opts.listen
        ? {
            ...ctx.loaded,
            config: { ...ctx.loaded.config, serve: { ...ctx.loaded.config.serve, listen: opts.listen } },
          }
        : ctx.loaded;
      // --now: the service starts at that time and its clock runs on from there.
      const clock = globals.now ? offsetClock(ctx.now) : systemClock;
      const service = await startService({
        loaded,
        storeLocation: ctx.storeLocation,
        clock,
        log,
        actor: ctx.actor,
        showKeyIds: ctx.showKeyIds,
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
      if (outcome !== "stopped") {
        log.error(
          { outcome },
          "stopped before all work in hand was finished; it is released and will be retried",
        );
        process.exit(1);
      }
      // Sockets of SDK clients may linger in keep-alive: the work is done, leave now.
      process.exit(0);
    });
}
