// `npm run bench`: every benchmark, one after the other, figures printed side by side.
// Nothing here asserts a timing.

import { execSync } from "node:child_process";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// Benchmarks that run `iamwarden` as users do (the CLI, worker threads) use the built modules.
execSync("npm run --silent build", { stdio: "inherit", cwd: new URL("..", import.meta.url) });
const suites = [
  ["scan: per-user pattern vs first and steady-state scans", "./scan.js"],
  ["reconcile: 100,000 findings in SQLite", "./reconcile.js"],
  ["events: replay vs gunzip + JSON.parse floor", "./events.js"],
  ["serve: intake events/s (HTTP, SQS) and event-to-quarantine latency", "./serve.js"],
] as const;

// BENCH_ONLY=events (a word of the title) runs the matching suites only.
const only = process.env.BENCH_ONLY;
for (const [title, path] of suites) {
  if (only && !title.startsWith(only)) continue;
  process.stdout.write(`\n=== ${title}\n`);
  const mod = (await import(path)) as { main: () => Promise<void> };
  await mod.main();
}
