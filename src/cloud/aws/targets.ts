import { paginateListAccounts } from "@aws-sdk/client-organizations";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { Config } from "../../config/schema.js";
import { UserError } from "../../errors.js";
import type { AccountTarget } from "../target.js";
import type { AwsClientFactory } from "./clients.js";

/** The role AWS Organizations creates in accounts it creates; used when discovery names none. */
export const DEFAULT_ORG_ROLE = "OrganizationAccountAccessRole";

interface Caller {
  account: string;
  partition: string;
  arn: string;
}

/**
 * The accounts a run reads, from config: explicit ids (with a role ARN or a role name), lists of
 * ids sharing a role name, and Organizations discovery (ACTIVE accounts only). Without accounts in
 * config, the account of the current credentials. The first entry naming an account wins.
 */
export async function resolveTargets(
  config: Config,
  factory: Pick<AwsClientFactory, "home">,
  opts: { only?: string[] | undefined } = {},
): Promise<AccountTarget[]> {
  let caller: Promise<Caller> | undefined;
  const whoAmI = () => {
    caller ??= factory.home.sts.send(new GetCallerIdentityCommand({})).then((r) => ({
      account: r.Account ?? "",
      arn: r.Arn ?? "",
      partition: /^arn:([\w-]+):/.exec(r.Arn ?? "")?.[1] ?? "aws",
    }));
    return caller;
  };
  const roleArn = async (id: string, roleName: string) =>
    `arn:${(await whoAmI()).partition}:iam::${id}:role/${roleName}`;

  const targets = new Map<string, AccountTarget>();
  const add = (t: AccountTarget) => {
    if (!targets.has(t.id)) targets.set(t.id, t);
  };
  /** Without a role, an account can only be read if the current credentials belong to it. */
  const direct = async (id: string, where: string): Promise<AccountTarget> => {
    const me = await whoAmI();
    if (me.account !== id)
      throw new UserError(
        `${where}: account ${id} has no roleArn or roleName, and the current credentials belong to ${me.account}`,
      );
    return { id };
  };

  for (const [i, entry] of config.accounts.entries()) {
    const where = `accounts[${i}]`;
    if ("id" in entry) {
      const base = entry.roleArn
        ? { id: entry.id, roleArn: entry.roleArn }
        : entry.roleName
          ? { id: entry.id, roleArn: await roleArn(entry.id, entry.roleName) }
          : await direct(entry.id, where);
      add({
        ...base,
        alias: entry.alias,
        externalId: base.roleArn ? entry.externalId : undefined,
        region: entry.region,
      });
    } else if ("ids" in entry) {
      for (const id of entry.ids) {
        add(
          entry.roleName
            ? { id, roleArn: await roleArn(id, entry.roleName), externalId: entry.externalId }
            : await direct(id, where),
        );
      }
    } else {
      const me = await whoAmI();
      const exclude = new Set(entry.exclude);
      for await (const page of paginateListAccounts({ client: factory.home.organizations }, {})) {
        for (const a of page.Accounts ?? []) {
          if (!a.Id || exclude.has(a.Id)) continue;
          // State replaces the retiring Status field; when both are present, State decides.
          if ((a.State ?? a.Status) !== "ACTIVE") continue;
          // The management account is read with the caller's own credentials unless a role is
          // named: OrganizationAccountAccessRole does not exist there.
          const role = entry.roleName ?? (a.Id === me.account ? undefined : DEFAULT_ORG_ROLE);
          add({
            id: a.Id,
            alias: a.Name,
            ...(role ? { roleArn: await roleArn(a.Id, role), externalId: entry.externalId } : {}),
          });
        }
      }
    }
  }

  if (!config.accounts.length) {
    const me = await whoAmI();
    add({ id: me.account });
  }

  let list = [...targets.values()];
  if (opts.only?.length) {
    const unknown = opts.only.filter((id) => !targets.has(id));
    if (unknown.length) {
      const known = list.slice(0, 10).map((t) => t.id);
      if (list.length > known.length) known.push("…");
      throw new UserError(
        `unknown account ${unknown.join(", ")}: not among the accounts to scan (${known.join(", ")})`,
      );
    }
    const only = new Set(opts.only);
    list = list.filter((t) => only.has(t.id));
  }
  return list;
}
