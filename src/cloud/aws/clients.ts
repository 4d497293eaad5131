import { CloudTrailClient } from "@aws-sdk/client-cloudtrail";
import { IAMClient } from "@aws-sdk/client-iam";
import { OrganizationsClient } from "@aws-sdk/client-organizations";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { STSClient } from "@aws-sdk/client-sts";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import type { AwsSettings } from "../../config/aws.js";
import type { AccountTarget } from "../target.js";

export interface AwsClients {
  iam: IAMClient;
  sts: STSClient;
  cloudtrail: CloudTrailClient;
  s3: S3Client;
  sns: SNSClient;
  organizations: OrganizationsClient;
}

/**
 * SDK settings every client shares: the SDK's adaptive retry (client-side rate limiting and
 * backoff on Throttling), the region, and a custom endpoint for emulators. Without an endpoint in
 * config the SDK still honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
 */
function base(aws: AwsSettings, region: string, credentials?: AwsCredentialIdentityProvider) {
  return {
    region,
    maxAttempts: aws.maxAttempts,
    retryMode: "adaptive" as const,
    ...(aws.endpoint ? { endpoint: aws.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    // Emulators serve every bucket on one host, whether named in config or in the environment.
    ...(aws.endpoint || process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3
      ? { forcePathStyle: true }
      : {}),
  };
}

function build(aws: AwsSettings, region: string, credentials?: AwsCredentialIdentityProvider): AwsClients {
  const c = base(aws, region, credentials);
  return {
    iam: new IAMClient(c),
    sts: new STSClient(c),
    cloudtrail: new CloudTrailClient(c),
    s3: new S3Client(c),
    sns: new SNSClient(c),
    organizations: new OrganizationsClient(c),
  };
}

/**
 * Clients for the caller's own credentials (the SDK's default chain: env, profile, SSO, instance
 * role) and, per account, for an assumed role. Cached: one set of clients per account per run.
 */
export function awsClientFactory(aws: AwsSettings) {
  const home = build(aws, aws.region);
  const cache = new Map<string, AwsClients>();
  return {
    home,
    forAccount(target: AccountTarget): AwsClients {
      const region = target.region ?? aws.region;
      if (!target.roleArn) return region === aws.region ? home : build(aws, region);
      const key = `${target.roleArn}|${target.externalId ?? ""}|${region}`;
      let clients = cache.get(key);
      if (!clients) {
        const credentials = fromTemporaryCredentials({
          params: {
            RoleArn: target.roleArn,
            RoleSessionName: "iamwarden",
            ...(target.externalId ? { ExternalId: target.externalId } : {}),
            DurationSeconds: 3600,
          },
          clientConfig: base(aws, aws.region),
        });
        clients = build(aws, region, credentials);
        cache.set(key, clients);
      }
      return clients;
    },
  };
}

export type AwsClientFactory = ReturnType<typeof awsClientFactory>;
