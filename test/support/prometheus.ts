import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";

// The real Prometheus of .ci/prometheus.sh (started by test/global-setup.ts), and a small exporter
// for it to scrape. Each exporter is a file_sd target labelled with its own id, so test files that
// share the server only ever query their own series.

const ENV_FILE = join(tmpdir(), "iamwarden-test-prom.env");
const inCi = () => /^(1|true|yes)$/i.test(process.env.CI ?? "");

export interface TestPrometheus {
  url: string;
  /** The label every series of this exporter carries: `iamwarden_test="<id>"`. */
  selector: string;
  registry: Registry;
  /** Resolves when Prometheus has scraped the exporter at least `samples` times. */
  scraped(samples?: number): Promise<void>;
  close(): Promise<void>;
}

function serverInfo(): { url: string; targets: string } | undefined {
  let url = process.env.IAMWARDEN_TEST_PROM;
  let targets = process.env.IAMWARDEN_TEST_PROM_TARGETS;
  if (!url || !targets) {
    try {
      const env = readFileSync(ENV_FILE, "utf8");
      url = /IAMWARDEN_TEST_PROM=(\S+)/.exec(env)?.[1];
      targets = /IAMWARDEN_TEST_PROM_TARGETS=(\S+)/.exec(env)?.[1];
    } catch {
      // no server was started
    }
  }
  return url && targets ? { url, targets } : undefined;
}

export async function promQuery(url: string, query: string): Promise<unknown[]> {
  const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await r.json()) as { data?: { result?: unknown[] } };
  return body.data?.result ?? [];
}

/** A Prometheus scraping a fresh exporter, or undefined (with a warning) when there is none. */
export async function testPrometheus(label: string): Promise<TestPrometheus | undefined> {
  const info = serverInfo();
  const ready =
    info &&
    (await fetch(`${info.url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    ));
  if (!info || !ready) {
    const msg = `Prometheus tests (${label}): no server from .ci/prometheus.sh. Start one with: eval "$(.ci/prometheus.sh)"`;
    if (inCi()) throw new Error(msg);
    console.warn(`SKIPPED ${msg}`);
    return undefined;
  }
  const id = `${label.replace(/\W/g, "_")}_${randomBytes(4).toString("hex")}`;
  const registry = new Registry();
  const server = createServer(async (_req, res) => {
    res.writeHead(200, { "content-type": registry.contentType });
    res.end(await registry.metrics());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const file = join(info.targets, `${id}.json`);
  writeFileSync(file, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { iamwarden_test: id } }]));
  const selector = `iamwarden_test="${id}"`;
  return {
    url: info.url,
    selector,
    registry,
    async scraped(samples = 2) {
      for (let i = 0; i < 120; i++) {
        const r = (await promQuery(info.url, `count_over_time(up{${selector}}[1m])`)) as {
          value: [number, string];
        }[];
        if (Number(r[0]?.value[1] ?? 0) >= samples) return;
        await new Promise((ok) => setTimeout(ok, 250));
      }
      throw new Error(`Prometheus did not scrape the test exporter (${selector}) within 30 s`);
    },
    async close() {
      rmSync(file, { force: true });
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
