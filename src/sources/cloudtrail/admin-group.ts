import { type IAMClient, paginateGetGroup } from "@aws-sdk/client-iam";

/** User names in an IAM group, following GetGroup's Marker until IsTruncated is false. */
export async function groupMembers(iam: IAMClient, group: string): Promise<Set<string>> {
  const users = new Set<string>();
  for await (const page of paginateGetGroup({ client: iam, pageSize: 1000 }, { GroupName: group })) {
    for (const u of page.Users ?? []) if (u.UserName) users.add(u.UserName);
  }
  return users;
}

export interface AdminResolverOptions {
  /** Always administrators (config `adminUsers`). */
  adminUsers: readonly string[];
  adminGroup?: string | undefined;
  /** IAM client for an account, or undefined when iamwarden cannot read it. */
  iamFor: (account: string) => Promise<IAMClient | undefined>;
  /** Told once per account whose group could not be read (its findings may include admins). */
  onWarning?: ((message: string) => void) | undefined;
  /**
   * Told of each account iamwarden cannot reach (not configured) instead of a warning per
   * account, so that a replay of an organisation's archive names them all in one line.
   */
  onNotConfigured?: ((account: string) => void) | undefined;
}

/**
 * Administrators per account: `adminUsers` plus the members of `adminGroup` read from IAM once per
 * account and run. A group that cannot be read leaves only `adminUsers`, with a warning.
 */
export function adminResolver(opts: AdminResolverOptions): (account: string) => Promise<ReadonlySet<string>> {
  const cache = new Map<string, Promise<ReadonlySet<string>>>();
  const base = new Set(opts.adminUsers);
  return (account) => {
    let hit = cache.get(account);
    if (!hit) {
      hit = (async () => {
        const group = opts.adminGroup;
        if (!group) return base;
        try {
          const iam = await opts.iamFor(account);
          if (!iam) {
            if (opts.onNotConfigured) {
              opts.onNotConfigured(account);
              return base;
            }
            opts.onWarning?.(
              `account ${account}: not among the configured accounts; admin group ${group} not read`,
            );
            return base;
          }
          return new Set([...base, ...(await groupMembers(iam, group))]);
        } catch (e) {
          const err = e as { name?: string; message?: string };
          opts.onWarning?.(
            `account ${account}: cannot read admin group ${group} (${err.name ?? "Error"}: ${err.message ?? String(e)}); only adminUsers count as admins`,
          );
          return base;
        }
      })();
      cache.set(account, hit);
    }
    return hit;
  };
}
