import type { AwsClientFactory } from "../../cloud/aws/clients.js";
import { describeAwsError, isAccessDenied } from "../../cloud/aws/errors.js";
import type { AccountTarget } from "../../cloud/target.js";
import type { Config } from "../../config/schema.js";
import type { AccountSnapshot } from "../../model/observations.js";
import type { AccountReader, ReadContext } from "../account-reader.js";
import {
  CredentialReportTimeout,
  type ReportPollOptions,
  readAccountViaReport,
} from "./credential-report.js";
import { readAccountViaApi } from "./iam-api.js";

export interface AwsReaderOptions {
  /** Credential report polling (tests shorten it). */
  report?: ReportPollOptions;
}

/**
 * Reads accounts through the IAM API or the credential report, per `aws.mode`.
 *
 * `auto` prefers the credential report whatever the account's size, and falls back to the API
 * when the report is not permitted (AccessDenied) or never gets ready. Why: the report costs a
 * handful of calls where the API costs two per user, so it is never the more expensive read once
 * a few users have keys, and it is the only read that shows the root account's access keys, so
 * the root-access-key check runs everywhere the report is allowed. Its price is freshness (AWS
 * reuses a report for up to 4 hours), which matters little against thresholds counted in days.
 * `aws.reportThreshold` is therefore not consulted: deciding by user count would need the user
 * list first, and would hide root keys in small accounts.
 */
export function awsAccountReader(
  config: Config,
  factory: Pick<AwsClientFactory, "forAccount">,
  opts: AwsReaderOptions = {},
): AccountReader {
  const { mode, concurrency } = config.aws;
  const iamOf = (target: AccountTarget) => factory.forAccount(target).iam;

  return {
    async read(target: AccountTarget, ctx: ReadContext = {}): Promise<AccountSnapshot> {
      const iam = iamOf(target);
      const { knownKeys } = ctx;
      const viaApi = () => readAccountViaApi(iam, target, { concurrency, knownKeys });
      const viaReport = () =>
        readAccountViaReport(iam, target, { poll: opts.report, concurrency, knownKeys });
      if (mode === "api") return viaApi();
      if (mode === "credential-report") return viaReport();
      try {
        return await viaReport();
      } catch (e) {
        if (!isAccessDenied(e) && !(e instanceof CredentialReportTimeout)) throw e;
        const snapshot = await viaApi();
        snapshot.warnings.unshift(
          `credential report unavailable (${describeAwsError(e)}); read through the IAM API instead`,
        );
        return snapshot;
      }
    },
  };
}
