import type { EventHeader } from "../../../model/event.js";
import { crnAccount, fromActivityTracker, ibmPrincipalType, isIbmEvent } from "../../ibm/activity-tracker.js";
import { type EventFormat, problemAt } from "../format.js";

// IBM Cloud Activity Tracker events (CADF), one, an array or JSON lines.

type Cadf = {
  action?: unknown;
  eventTime?: unknown;
  initiator?: { typeURI?: unknown; host?: { address?: unknown } };
  target?: { id?: unknown };
  logSourceCRN?: unknown;
};
const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

export const activityTracker: EventFormat = {
  name: "activity-tracker",
  detect: isIbmEvent,
  header(v): EventHeader | undefined {
    const e = v as Cadf;
    const action = str(e.action);
    if (!action || typeof e.initiator !== "object" || e.initiator === null) return undefined;
    return {
      provider: "ibm",
      kind: action.startsWith("iam-identity.") && action.endsWith(".login") ? "login" : "api-call",
      action,
      principalType: ibmPrincipalType(str(e.initiator.typeURI)),
      sourceIp: str(e.initiator.host?.address),
      account: crnAccount(str(e.target?.id)) ?? crnAccount(str(e.logSourceCRN)),
    };
  },
  timeMs: (v) => {
    const t = (v as Cadf).eventTime;
    return typeof t === "string" ? Date.parse(t) : Number.NaN;
  },
  normalise(v, where) {
    const e = fromActivityTracker(v);
    return typeof e === "string" ? problemAt(where, e) : e;
  },
};
