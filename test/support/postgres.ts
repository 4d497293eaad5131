import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

// Real PostgreSQL for tests. The server comes from IAMWARDEN_TEST_PG, else from the URL file that
// .ci/postgres.sh leaves behind, else from its default address. Each test file gets a database of
// its own (created here, dropped by `drop`), so files running in parallel never see each other.

const DEFAULT_URL = "postgres://iamwarden:iamwarden@127.0.0.1:54329/iamwarden_test";
const URL_FILE = join(tmpdir(), "iamwarden-test-pg.url");

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function candidateUrl(): { url: string; explicit: boolean } {
  const env = process.env.IAMWARDEN_TEST_PG;
  if (env) return { url: env, explicit: true };
  try {
    const fromFile = readFileSync(URL_FILE, "utf8").trim();
    if (fromFile) return { url: fromFile, explicit: false };
  } catch {
    // no file: try the script's default address
  }
  return { url: DEFAULT_URL, explicit: false };
}

async function reachable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

const inCi = () => /^(1|true|yes)$/i.test(process.env.CI ?? "");

/**
 * A fresh, empty database on the test server, or undefined (with a warning) when there is no
 * server and CI is not set. Under CI a missing server is an error: those tests must run there.
 */
export async function testDatabase(label: string): Promise<TestDatabase | undefined> {
  const { url, explicit } = candidateUrl();
  const problem = await reachable(url);
  if (problem) {
    const where = explicit ? "IAMWARDEN_TEST_PG" : "the server of .ci/postgres.sh";
    const msg = `PostgreSQL tests (${label}): cannot reach ${where} (${problem}). Start one with: eval "$(.ci/postgres.sh)"`;
    if (inCi()) throw new Error(msg);
    console.warn(`SKIPPED ${msg}`);
    return undefined;
  }
  const name = `iamwarden_t_${label.replace(/\W/g, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  return {
    url: dbUrl.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
