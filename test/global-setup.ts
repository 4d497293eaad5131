import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

// `npm test` runs every test, the PostgreSQL ones included: when no server is named by
// IAMWARDEN_TEST_PG, start (and on a fresh Debian machine, install) one with .ci/postgres.sh.
// Where that cannot work (not root, no apt), the PostgreSQL tests say why and skip — unless CI is
// set, where they fail.
export default function setup(): void {
  startPrometheus();
  chromium();
  if (process.env.IAMWARDEN_TEST_PG) return;
  const script = resolve(import.meta.dirname, "../.ci/postgres.sh");
  const r = spawnSync("bash", [script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 300_000,
  });
  const url = /IAMWARDEN_TEST_PG=['"]?([^'"\s]+)/.exec(r.stdout ?? "")?.[1];
  if (r.status === 0 && url) process.env.IAMWARDEN_TEST_PG = url;
  else console.warn(`test setup: could not start PostgreSQL with ${script} (exit ${r.status})`);
}

// The same for the real Prometheus the health-check tests scrape their exporter with
// (.ci/prometheus.sh; IAMWARDEN_TEST_PROM names one already running).
function startPrometheus(): void {
  if (process.env.IAMWARDEN_TEST_PROM) return;
  const script = resolve(import.meta.dirname, "../.ci/prometheus.sh");
  const r = spawnSync("bash", [script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 300_000,
  });
  const url = /IAMWARDEN_TEST_PROM=(\S+)/.exec(r.stdout ?? "")?.[1];
  const targets = /IAMWARDEN_TEST_PROM_TARGETS=(\S+)/.exec(r.stdout ?? "")?.[1];
  if (r.status === 0 && url && targets) {
    process.env.IAMWARDEN_TEST_PROM = url;
    process.env.IAMWARDEN_TEST_PROM_TARGETS = targets;
  } else console.warn(`test setup: could not start Prometheus with ${script} (exit ${r.status})`);
}

// The dashboard test drives Debian's chromium (playwright-core): installed by .ci/chromium.sh
// when missing, like PostgreSQL above; skipped with a message where that cannot work, unless CI.
function chromium(): void {
  if (process.env.IAMWARDEN_TEST_CHROMIUM) return;
  const script = resolve(import.meta.dirname, "../.ci/chromium.sh");
  const r = spawnSync("bash", [script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 600_000,
  });
  const bin = /IAMWARDEN_TEST_CHROMIUM=['"]?([^'"\s]+)/.exec(r.stdout ?? "")?.[1];
  if (r.status === 0 && bin) process.env.IAMWARDEN_TEST_CHROMIUM = bin;
  else console.warn(`test setup: could not install chromium with ${script} (exit ${r.status})`);
}
