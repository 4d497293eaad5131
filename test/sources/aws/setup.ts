import { type Config, configSchema } from "../../../src/config/schema.js";

/** Fake static credentials for the SDK's default chain; the emulator maps them to its home account. */
export function useFakeAwsCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = "AKIAEMULATORHOME0001";
  process.env.AWS_SECRET_ACCESS_KEY = "emulator-secret-not-a-real-one";
  process.env.AWS_REGION = "us-east-1";
  process.env.AWS_EC2_METADATA_DISABLED = "true";
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_ENDPOINT_URL;
}

/** A config pointing every AWS client at the emulator. */
export function emulatorConfig(url: string, extra: Record<string, unknown> = {}): Config {
  const { aws, ...rest } = extra as { aws?: Record<string, unknown> };
  return configSchema.parse({
    aws: { endpoint: url, region: "us-east-1", maxAttempts: 8, ...aws },
    ...rest,
  });
}
