import type { IAMClient } from "@aws-sdk/client-iam";
import type { Config } from "../../config/schema.js";
import { UserError } from "../../errors.js";
import type { AccountTarget } from "../target.js";
import { type AwsClientFactory, awsClientFactory } from "./clients.js";
import { resolveTargets } from "./targets.js";

/** What an action needs to change one account. */
export interface AccountClients {
  iam: IAMClient;
  partition?: string | undefined;
}

/**
 * IAM clients per account, from the accounts in config (role ARN, role name, Organizations
 * discovery). An account the config does not name is refused: iamwarden never changes an account
 * it was not told about, and without a role it only acts with credentials of that very account.
 */
export function accountClients(
  config: Config,
  factory: AwsClientFactory = awsClientFactory(config.aws),
): (account: string) => Promise<AccountClients> {
  let targets: Promise<Map<string, AccountTarget>> | undefined;
  return async (account) => {
    targets ??= resolveTargets(config, factory).then((list) => new Map(list.map((t) => [t.id, t])));
    const target = (await targets).get(account);
    if (!target) throw new UserError(`account ${account} is not among the configured accounts`);
    const partition = /^arn:([\w-]+):/.exec(target.roleArn ?? "")?.[1];
    return { iam: factory.forAccount(target).iam, partition };
  };
}
