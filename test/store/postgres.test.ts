import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { openPostgresStore } from "../../src/store/postgres.js";
import { testDatabase } from "../support/postgres.js";
import { storeContract } from "./contract.js";

const db = await testDatabase("store");
afterAll(async () => db?.drop());

const exec = async (sql: string) => {
  const client = new pg.Client({ connectionString: db?.url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
};

describe.skipIf(!db)("postgres store", () => {
  storeContract(
    "postgres",
    () => openPostgresStore(db?.url ?? ""),
    // An empty schema per test, so every test also runs the migrations.
    () => exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public"),
    { exec },
  );

  it("reports a connection it cannot make as one line, without the password", async () => {
    const bad = new URL(db?.url ?? "");
    bad.password = "not-the-password";
    const err = await openPostgresStore(bad.toString()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/cannot open the store/);
    expect((err as Error).message).not.toContain("not-the-password");
    bad.port = "1";
    await expect(openPostgresStore(bad.toString())).rejects.toBeInstanceOf(UserError);
  });
});
