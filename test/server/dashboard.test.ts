import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { runCli } from "../support/cli.js";
import { envelope } from "./events-fixture.js";
import { type ServeProcess, startServe, TOKEN } from "./harness.js";

// The dashboard in real Chromium (Debian's, driven by playwright-core): it loads without
// internet, shows the findings in the store, filters them, and logs no console errors.

const BIN = process.env.IAMWARDEN_TEST_CHROMIUM ?? "/usr/bin/chromium";
const available = existsSync(BIN);
if (!available) {
  const msg = `dashboard test: no chromium at ${BIN}; install it with .ci/chromium.sh`;
  if (/^(1|true|yes)$/i.test(process.env.CI ?? "")) throw new Error(msg);
  console.warn(`SKIPPED ${msg}`);
}

let serve: ServeProcess;
let browser: Browser;

beforeAll(async () => {
  if (!available) return;
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-dashboard-"));
  const cfg = join(dir, "iamwarden.yaml");
  writeFileSync(
    cfg,
    stringify({
      store: "./iamwarden.db",
      accounts: [{ id: "111122223333", alias: "example-prod" }],
      checks: { "iam-change": { adminUsers: ["alice.admin"] } },
      serve: { listen: "127.0.0.1:0", token: TOKEN },
    }),
  );
  // Key findings from the bundled credential report, event findings through the intake.
  const scan = await runCli([
    "scan",
    "--config",
    cfg,
    "--credential-report",
    resolve(import.meta.dirname, "../../examples/credential-report.csv"),
    "--format",
    "json",
  ]);
  expect(scan.stderr).toBe("");
  serve = await startServe(["--config", cfg]);
  const body = ["mallory", "bob"].map((u, i) => JSON.stringify(envelope(u, `ev-dash-${i}`))).join("\n");
  expect((await serve.api("/v1/events", { method: "POST", body })).status).toBe(200);
  browser = await chromium.launch({ executablePath: BIN, args: ["--no-sandbox"] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (serve) expect(await serve.stop()).toBe(0);
});

it.skipIf(!available)(
  "shows the seeded findings, filters them, and logs no errors",
  async () => {
    const all = await (await serve.api("/v1/findings?status=open&limit=1000")).json();
    expect(all.total).toBeGreaterThan(3);
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    // Any request off this host would be the page reaching for the internet.
    const offsite: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(serve.url) && !r.url().startsWith("data:")) offsite.push(r.url());
    });

    await page.goto(`${serve.url}/#token=${TOKEN}`);
    const rows = page.locator("#findings tbody tr");
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(all.total);
    // Every open finding of the store is listed, by title.
    const titles = await rows.locator("td:nth-child(5)").allTextContents();
    expect(titles.sort()).toEqual(all.findings.map((f: { title: string }) => f.title).sort());
    // By account and check, oldest keys, and the IAM changes with their events.
    expect(await page.locator("#by-account tbody").textContent()).toContain("111122223333");
    expect(await page.locator("#oldest-keys tbody tr").count()).toBeGreaterThan(0);
    const recent = await page.locator("#recent-events tbody").textContent();
    expect(recent).toContain("mallory");
    expect(recent).toContain("bob");
    await page.locator("#recent-events summary").first().click();
    expect(await page.locator("#recent-events ul.events li").first().textContent()).toContain(
      "iam:CreateAccessKey",
    );
    expect(await page.locator("#runs tbody").textContent()).toContain("serve intake");

    // The filter narrows every table to what matches.
    await page.locator("#filter").fill("bob");
    await expect
      .poll(() => rows.count())
      .toBe(
        all.findings.filter((f: { owner?: string; title: string }) => `${f.owner} ${f.title}`.includes("bob"))
          .length,
      );
    for (const t of await rows.allTextContents()) expect(t).toContain("bob");
    await page.locator("#filter").fill("");
    await expect.poll(() => rows.count()).toBe(all.total);

    expect(problems).toEqual([]);
    expect(offsite).toEqual([]);
    // The token is taken from the fragment and not left in the address.
    expect(page.url()).toBe(`${serve.url}/`);
  },
  60_000,
);
