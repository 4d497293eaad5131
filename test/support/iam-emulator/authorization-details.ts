import { awsError, memberList, page, type QueryOperation } from "./operation.js";
import type { EmuAccount, EmuGroup, EmuPolicy, EmuRole, EmuUser } from "./state.js";

// GetAccountAuthorizationDetails: every user, group, role and managed policy of the account with
// what is attached to it, in one paginated read.
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html
// The reference does not say how MaxItems counts across entity types; here it counts every
// entity of the filtered types together (users, then groups, roles, policies), the stricter
// reading, so that a reader must follow Marker across types.

const ENTITY_TYPES = ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"] as const;
type EntityType = (typeof ENTITY_TYPES)[number];

/** Policy documents come URL-encoded (RFC 3986) in this call's response, as AWS sends them. */
const encodedDocument = (doc: string) => encodeURIComponent(doc);

const attached = (arns: string[]) =>
  arns.map((arn) => ({ PolicyName: arn.split("/").pop(), PolicyArn: arn }));

const userDetail = (u: EmuUser) => ({
  Path: u.path,
  UserName: u.name,
  UserId: u.id,
  Arn: u.arn,
  CreateDate: u.createDate,
  UserPolicyList: Object.entries(u.inlinePolicies).map(([PolicyName, doc]) => ({
    PolicyName,
    PolicyDocument: encodedDocument(doc),
  })),
  GroupList: u.groups,
  AttachedManagedPolicies: attached(u.attachedPolicies),
  Tags: u.tags,
});

const groupDetail = (g: EmuGroup) => ({
  Path: g.path,
  GroupName: g.name,
  GroupId: g.id,
  Arn: g.arn,
  CreateDate: g.createDate,
  GroupPolicyList: Object.entries(g.inlinePolicies).map(([PolicyName, doc]) => ({
    PolicyName,
    PolicyDocument: encodedDocument(doc),
  })),
  AttachedManagedPolicies: attached(g.attachedPolicies),
});

const roleDetail = (r: EmuRole) => ({ Path: "/", RoleName: r.name, Arn: r.arn });

const policyDetail = (p: EmuPolicy, acct: EmuAccount) => {
  const users = [...acct.users.values()].filter((u) => u.attachedPolicies.includes(p.arn)).length;
  const groups = [...acct.groups.values()].filter((g) => g.attachedPolicies.includes(p.arn)).length;
  return {
    PolicyName: p.name,
    PolicyId: p.id,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: "v1",
    AttachmentCount: users + groups,
    IsAttachable: true,
    CreateDate: p.createDate,
    UpdateDate: p.createDate,
    PolicyVersionList: [
      {
        Document: encodedDocument(p.document),
        VersionId: "v1",
        IsDefaultVersion: true,
        CreateDate: p.createDate,
      },
    ],
  };
};

type Entity =
  | { type: "User"; detail: ReturnType<typeof userDetail> }
  | { type: "Group"; detail: ReturnType<typeof groupDetail> }
  | { type: "Role"; detail: ReturnType<typeof roleDetail> }
  | { type: "Policy"; detail: ReturnType<typeof policyDetail> };

export const getAccountAuthorizationDetails: QueryOperation = {
  protocol: "query",
  service: "iam",
  version: "2010-05-08",
  action: "GetAccountAuthorizationDetails",
  handle(p, ctx) {
    const filter = memberList(p, "Filter");
    for (const f of filter)
      if (!(ENTITY_TYPES as readonly string[]).includes(f))
        throw awsError(
          "ValidationError",
          `1 validation error detected: Value '[${filter.join(", ")}]' at 'filter' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [${ENTITY_TYPES.join(", ")}]]`,
        );
    const wants = (t: EntityType) => filter.length === 0 || filter.includes(t);
    const acct = ctx.account;
    const entities: Entity[] = [];
    if (wants("User"))
      for (const u of acct.users.values()) entities.push({ type: "User", detail: userDetail(u) });
    if (wants("Group"))
      for (const g of acct.groups.values()) entities.push({ type: "Group", detail: groupDetail(g) });
    if (wants("Role"))
      for (const r of acct.roles.values()) entities.push({ type: "Role", detail: roleDetail(r) });
    // The emulator holds customer managed policies only; AWS managed ones are referenced by ARN.
    if (wants("LocalManagedPolicy"))
      for (const pol of acct.policies.values())
        entities.push({ type: "Policy", detail: policyDetail(pol, acct) });

    const r = page(entities, p, ctx.settings.pageCap);
    const of = <T extends Entity["type"]>(t: T) =>
      r.items.filter((e): e is Extract<Entity, { type: T }> => e.type === t).map((e) => e.detail);
    return {
      UserDetailList: of("User"),
      GroupDetailList: of("Group"),
      RoleDetailList: of("Role"),
      Policies: of("Policy"),
      IsTruncated: r.IsTruncated,
      Marker: r.Marker,
    };
  },
};
