import { type Config, configSchema } from "../../../src/config/schema.js";
import { type FakeJira, startFakeJira } from "./jira.js";
import { type FakePagerDuty, startFakePagerDuty } from "./pagerduty.js";
import { type FakeSlack, startFakeSlack } from "./slack.js";
import { type FakeSns, startFakeSns } from "./sns.js";
import { type FakeWebhook, startFakeWebhook } from "./webhook.js";

// Every external service iamwarden reports to, faked on 127.0.0.1, and a config pointing at them.

export const SLACK_TOKEN = "xoxb-test-token";
export const JIRA_EMAIL = "bot@example.com";
export const JIRA_TOKEN = "jira-api-token";
export const PD_KEY = "R0UT1NGKEY0000000000000000000001";
export const PD_KEY_ROOT = "R0UT1NGKEY0000000000000000000002";
export const TOPIC = "arn:aws:sns:eu-west-1:999988887777:iam-findings";
export const HOOK_SECRET = "hook-secret";

export interface World {
  slack: FakeSlack;
  jira: FakeJira;
  pd: FakePagerDuty;
  sns: FakeSns;
  hook: FakeWebhook;
  config: Config;
  violations(): string[];
  close(): Promise<void>;
}

/** Fake AWS credentials from the environment, so the SDK signs requests to the fake SNS. */
export function fakeAwsEnv(): void {
  process.env.AWS_ACCESS_KEY_ID = "AKIDFAKEFAKEFAKE0000";
  process.env.AWS_SECRET_ACCESS_KEY = "fake-secret";
  process.env.AWS_REGION = "eu-west-1";
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
}

export async function startWorld(over: Record<string, unknown> = {}): Promise<World> {
  fakeAwsEnv();
  const slack = await startFakeSlack({
    token: SLACK_TOKEN,
    channels: ["#iam-alerts", "#prod-security"],
    users: { "bob@example.com": "U0BOB0001" },
  });
  const jira = await startFakeJira({
    version: 3,
    email: JIRA_EMAIL,
    token: JIRA_TOKEN,
    projects: ["SEC", "PROD"],
    users: { "secops@example.com": "acc-secops" },
  });
  const pd = await startFakePagerDuty({ routingKeys: [PD_KEY, PD_KEY_ROOT] });
  const sns = await startFakeSns({ topics: [TOPIC] });
  const hook = await startFakeWebhook({ secret: HOOK_SECRET });
  const config = configSchema.parse({
    aws: { region: "eu-west-1", endpoint: sns.url, maxAttempts: 2 },
    notify: {
      slack: { token: SLACK_TOKEN, channel: "#iam-alerts", apiUrl: slack.apiUrl },
      jira: { url: jira.url, email: JIRA_EMAIL, token: JIRA_TOKEN, project: "SEC", issueType: "Task" },
      pagerduty: { routingKey: PD_KEY, routingKeys: { "root-access-key": PD_KEY_ROOT }, url: pd.enqueueUrl },
      sns: { topicArn: TOPIC },
      webhook: { url: hook.hookUrl, secret: HOOK_SECRET, timeoutMs: 2000 },
    },
    owners: {
      default: { jiraAssignee: "secops@example.com" },
      users: { alice: { slack: "U0ALICE01", jiraAccountId: "acc-alice" } },
    },
    ...over,
  });
  const all = [slack, jira, pd, sns, hook];
  return {
    slack,
    jira,
    pd,
    sns,
    hook,
    config,
    violations: () => all.flatMap((s) => s.violations),
    close: async () => {
      await Promise.all(all.map((s) => s.close()));
    },
  };
}
