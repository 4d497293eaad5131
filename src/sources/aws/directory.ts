import {
  type IAMClient,
  paginateGetAccountAuthorizationDetails,
  paginateListUserTags,
} from "@aws-sdk/client-iam";
import pLimit from "p-limit";
import { isNoSuchEntity } from "../../cloud/aws/errors.js";
import type { IamGroup, IamUser } from "../../model/observations.js";

// Every user's tags, groups and attached policies in one paginated read
// (GetAccountAuthorizationDetails, up to 1,000 entities a page) instead of calls per user. What it
// reads is set on the snapshot's users, so exemptions (tags) and the admin protection of
// remediation (groups, policies attached directly or through a group) need no further calls.

/** One user as the directory read describes it. */
export type DirectoryUser = Required<
  Pick<
    IamUser,
    "name" | "id" | "arn" | "createDate" | "tags" | "groups" | "attachedPolicies" | "inlinePolicies"
  >
>;

export interface Directory {
  users: Map<string, DirectoryUser>;
  groups: IamGroup[];
}

/** Page size of the directory read; IAM allows up to 1,000. */
export const DIRECTORY_PAGE = 1000;

export async function readDirectory(iam: IAMClient): Promise<Directory> {
  const users = new Map<string, DirectoryUser>();
  const groups: IamGroup[] = [];
  for await (const page of paginateGetAccountAuthorizationDetails(
    { client: iam, pageSize: DIRECTORY_PAGE },
    { Filter: ["User", "Group"] },
  )) {
    for (const u of page.UserDetailList ?? []) {
      if (!u.UserName) continue;
      const tags: Record<string, string> = {};
      for (const t of u.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? "";
      users.set(u.UserName, {
        name: u.UserName,
        id: u.UserId ?? "",
        arn: u.Arn ?? "",
        createDate: u.CreateDate ?? new Date(0),
        tags,
        groups: u.GroupList ?? [],
        attachedPolicies: (u.AttachedManagedPolicies ?? []).flatMap((p) =>
          p.PolicyArn ? [p.PolicyArn] : [],
        ),
        inlinePolicies: (u.UserPolicyList ?? []).flatMap((p) => (p.PolicyName ? [p.PolicyName] : [])),
      });
    }
    for (const g of page.GroupDetailList ?? []) {
      if (!g.GroupName) continue;
      groups.push({
        name: g.GroupName,
        arn: g.Arn,
        attachedPolicies: (g.AttachedManagedPolicies ?? []).flatMap((p) =>
          p.PolicyArn ? [p.PolicyArn] : [],
        ),
        inlinePolicies: (g.GroupPolicyList ?? []).flatMap((p) => (p.PolicyName ? [p.PolicyName] : [])),
      });
    }
  }
  return { users, groups };
}

/**
 * Sets what the directory knows on each user. A user the directory does not hold (created or
 * deleted between the two reads) keeps no tags; it is named in the returned list.
 */
export function applyDirectory(users: IamUser[], dir: Directory): string[] {
  const groupPolicies = new Map(dir.groups.map((g) => [g.name, g.attachedPolicies]));
  const missing: string[] = [];
  for (const user of users) {
    const d = dir.users.get(user.name);
    // Same name but another ARN: not the same user (recreated elsewhere in the path tree).
    if (!d || (user.arn && d.arn && user.arn !== d.arn)) {
      missing.push(user.name);
      continue;
    }
    user.id = d.id;
    user.createDate ??= d.createDate;
    user.tags = d.tags;
    user.groups = d.groups;
    user.attachedPolicies = d.attachedPolicies;
    user.inlinePolicies = d.inlinePolicies;
    user.groupPolicies = [...new Set(d.groups.flatMap((g) => groupPolicies.get(g) ?? []))];
  }
  return missing;
}

/** Tags of some users, one ListUserTags each: the fallback when the directory read is denied. */
export async function readUserTags(iam: IAMClient, users: IamUser[], concurrency: number): Promise<void> {
  const limit = pLimit(concurrency);
  await Promise.all(
    users.map((user) =>
      limit(async () => {
        const tags: Record<string, string> = {};
        try {
          for await (const page of paginateListUserTags({ client: iam }, { UserName: user.name }))
            for (const t of page.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? "";
        } catch (e) {
          // Deleted since the read: no tags to exempt it by.
          if (!isNoSuchEntity(e)) throw e;
        }
        user.tags = tags;
      }),
    ),
  );
}
