import { z } from "zod";
import type { IamEvent } from "../../model/event.js";

// IBM Cloud Activity Tracker events (CADF), as routed by Activity Tracker Event Routing or exported
// from IBM Cloud Logs: `action` is service.objectType.action, the caller is `initiator`, the
// resource is `target` whose CRN names the account (`a/<account id>` scope segment).

const host = z.object({ address: z.string().optional(), agent: z.string().optional() }).partial();

export const ibmEventSchema = z.object({
  action: z.string().min(1),
  eventTime: z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not a date-time"),
  outcome: z.string().optional(),
  id: z.string().optional(),
  correlationId: z.string().optional(),
  logSourceCRN: z.string().optional(),
  initiator: z.object({
    id: z.string().optional(),
    name: z.string().optional(),
    typeURI: z.string().optional(),
    credential: z.object({ type: z.string().optional() }).partial().optional(),
    host: host.optional(),
  }),
  target: z
    .object({ id: z.string().optional(), name: z.string().optional(), typeURI: z.string().optional() })
    .partial()
    .optional(),
  reason: z
    .object({ reasonCode: z.union([z.number(), z.string()]).optional(), reasonType: z.string().optional() })
    .partial()
    .nullish(),
});

/** True when a JSON value looks like a CADF event from IBM Cloud (has `action` and `initiator`). */
export function isIbmEvent(v: unknown): boolean {
  return typeof v === "object" && v !== null && "action" in v && "initiator" in v && "eventTime" in v;
}

/** The account of a CRN: `crn:v1:bluemix:public:iam-identity::a/<account>::…` → `<account>`. */
export function crnAccount(crn: string | undefined): string | undefined {
  const scope = crn?.split(":")[6];
  return scope?.startsWith("a/") ? scope.slice(2) : undefined;
}

/** `service/security/account/serviceid` → `serviceid`. */
export function ibmPrincipalType(typeURI: string | undefined): string {
  if (!typeURI) return "unknown";
  if (typeURI.endsWith("/certificateid")) return "certificate";
  return typeURI.slice(typeURI.lastIndexOf("/") + 1) || "unknown";
}

/** Normalises one Activity Tracker event, or says why it cannot. */
export function fromActivityTracker(v: unknown): IamEvent | string {
  const parsed = ibmEventSchema.safeParse(v);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `Activity Tracker event: ${issue.path.join(".") || "event"}: ${issue.message}`;
  }
  const e = parsed.data;
  const account = crnAccount(e.target?.id) ?? crnAccount(e.logSourceCRN);
  if (!account)
    return "Activity Tracker event: no account: neither target.id nor logSourceCRN is an account CRN";
  const failed = e.outcome !== undefined && e.outcome !== "success";
  const code = e.reason?.reasonCode;
  return {
    time: new Date(e.eventTime),
    account,
    provider: "ibm",
    kind: e.action.startsWith("iam-identity.") && e.action.endsWith(".login") ? "login" : "api-call",
    action: e.action,
    principal: {
      type: ibmPrincipalType(e.initiator.typeURI),
      name: e.initiator.name,
      id: e.initiator.id,
      credential: e.initiator.credential?.type,
    },
    sourceIp: e.initiator.host?.address ?? "",
    userAgent: e.initiator.host?.agent,
    outcome: failed ? "failure" : "success",
    errorCode: failed && code !== undefined ? String(code) : undefined,
    errorMessage: failed ? e.reason?.reasonType : undefined,
    region: e.logSourceCRN?.split(":")[5] || undefined,
    eventId: e.id ?? e.correlationId ?? `${e.eventTime}|${e.action}|${e.initiator.id ?? ""}`,
    target: { id: e.target?.id, name: e.target?.name },
    raw: v,
  };
}
