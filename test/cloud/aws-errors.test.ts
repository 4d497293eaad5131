import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IAMClient, ListUsersCommand } from "@aws-sdk/client-iam";
import { fromIni } from "@aws-sdk/credential-providers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeAwsError } from "../../src/cloud/aws/errors.js";

// Real SDK failures, described in plain words naming what to fix.

const saved = { ...process.env };
beforeEach(() => {
  const dir = mkdtempSync(join(tmpdir(), "iw-aws-"));
  writeFileSync(join(dir, "config"), "");
  writeFileSync(join(dir, "credentials"), "");
  for (const k of Object.keys(process.env)) if (k.startsWith("AWS_")) delete process.env[k];
  Object.assign(process.env, {
    AWS_CONFIG_FILE: join(dir, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
  });
});
afterEach(() => {
  process.env = { ...saved };
});

async function failure(client: IAMClient): Promise<unknown> {
  try {
    await client.send(new ListUsersCommand({}));
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail");
}

describe("describeAwsError", () => {
  it("names an unknown profile", async () => {
    const e = await failure(
      new IAMClient({ region: "us-east-1", credentials: fromIni({ profile: "nope" }) }),
    );
    expect(describeAwsError(e, { profile: "nope" })).toMatch(
      /^unknown AWS profile nope: not in ~\/\.aws\/config/,
    );
  });

  it("says there are no credentials and how to get some", async () => {
    const e = await failure(new IAMClient({ region: "us-east-1", maxAttempts: 1 }));
    expect(describeAwsError(e)).toMatch(/^no AWS credentials found .*aws configure/);
  });

  it("names the endpoint setting when the endpoint is unreachable", async () => {
    const endpoint = "http://127.0.0.1:9";
    const e = await failure(
      new IAMClient({
        region: "us-east-1",
        endpoint,
        maxAttempts: 1,
        credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "x" },
      }),
    );
    expect(describeAwsError(e, { endpoint })).toBe(
      `cannot reach the AWS endpoint ${endpoint} (ECONNREFUSED): check aws.endpoint in the config or AWS_ENDPOINT_URL`,
    );
  });

  it("names the missing permission and the policy file that grants it", () => {
    // The shape IAM returns (query protocol: Code and name are the wire code).
    const denied = Object.assign(
      new Error(
        "User: arn:aws:sts::111122223333:assumed-role/iamwarden-audit/s is not authorized to perform: iam:GenerateCredentialReport on resource: *",
      ),
      { name: "AccessDenied", Code: "AccessDenied" },
    );
    expect(describeAwsError(denied)).toBe(
      "access denied: the role lacks iam:GenerateCredentialReport (granted by policy/iamwarden-audit.json)",
    );
    const remediate = Object.assign(
      new Error("... not authorized to perform: iam:UpdateAccessKey on resource: x"),
      {
        name: "AccessDenied",
      },
    );
    expect(describeAwsError(remediate)).toMatch(
      /iam:UpdateAccessKey \(granted by policy\/iamwarden-remediate\.json\)/,
    );
  });
});
