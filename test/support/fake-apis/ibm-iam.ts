import { randomBytes } from "node:crypto";
import { parseAllowlist } from "../../../src/allowlist/allowlist.js";
import { type FakeServer, need, parseJson, startFake } from "./server.js";

// A fake IBM Cloud IAM: the token endpoint and the account identity settings, per the API docs.
// POST /identity/token: form-encoded, grant_type=urn:ibm:params:oauth:grant-type:apikey and a known
// apikey, answering access_token/expires_in/expiration. GET /v1/accounts/{id}/settings/identity
// with a Bearer token answers the settings and their entity_tag; PUT needs If-Match equal to the
// current entity_tag (else 412), a JSON body whose allowed_ip_addresses is a comma-separated string
// of addresses, CIDRs and ranges (no spaces), and bumps the tag.

export interface IbmAccountState {
  allowed_ip_addresses: string;
  entity_tag: string;
}

export interface FakeIbmIam extends FakeServer {
  accounts: Map<string, IbmAccountState>;
  /** Access tokens handed out so far. */
  tokensIssued(): number;
  /** Changes an account as someone else would (a new entity_tag). */
  changeBehindOurBack(account: string, value: string): void;
}

const GRANT = "urn:ibm:params:oauth:grant-type:apikey";

export async function startFakeIbmIam(opts: {
  apiKey: string;
  accounts: string[];
  expiresIn?: number;
}): Promise<FakeIbmIam> {
  const accounts = new Map<string, IbmAccountState>(
    opts.accounts.map((a) => [a, { allowed_ip_addresses: "", entity_tag: "1-0" }]),
  );
  const tokens = new Set<string>();
  let issued = 0;
  const bump = (s: IbmAccountState) => {
    const [n] = s.entity_tag.split("-");
    s.entity_tag = `${Number(n) + 1}-${randomBytes(4).toString("hex")}`;
  };
  const settingsBody = (id: string, s: IbmAccountState) => ({
    account_id: id,
    restrict_create_service_id: "NOT_SET",
    restrict_create_platform_apikey: "NOT_SET",
    allowed_ip_addresses: s.allowed_ip_addresses,
    entity_tag: s.entity_tag,
    mfa: "NONE",
    session_expiration_in_seconds: "86400",
  });
  const fake = await startFake("ibm-iam", (r) => {
    if (r.path === "/identity/token") {
      need(r.method === "POST", "the token endpoint takes POST");
      need(
        (r.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded"),
        "the token request is form-encoded",
      );
      const form = new URLSearchParams(r.body);
      need(form.get("grant_type") === GRANT, `grant_type must be ${GRANT}`);
      if (form.get("apikey") !== opts.apiKey)
        return {
          status: 400,
          body: { errorCode: "BXNIM0415E", errorMessage: "Provided API key could not be found." },
        };
      const token = `tok-${randomBytes(8).toString("hex")}`;
      tokens.add(token);
      issued++;
      const expiresIn = opts.expiresIn ?? 3600;
      return {
        status: 200,
        body: {
          access_token: token,
          refresh_token: "not_supported",
          token_type: "Bearer",
          expires_in: expiresIn,
          expiration: Math.floor(Date.now() / 1000) + expiresIn,
          scope: "ibm openid",
        },
      };
    }
    const m = /^\/v1\/accounts\/([^/]+)\/settings\/identity$/.exec(r.path);
    need(m, `unknown path ${r.path}`);
    const auth = /^Bearer (.+)$/.exec(r.headers.authorization ?? "");
    if (!auth || !tokens.has(auth[1]!))
      return { status: 401, body: { errors: [{ code: "unauthorized", message: "invalid token" }] } };
    const id = decodeURIComponent(m[1]!);
    const state = accounts.get(id);
    if (!state)
      return { status: 403, body: { errors: [{ code: "forbidden", message: `no access to ${id}` }] } };
    if (r.method === "GET") return { status: 200, body: settingsBody(id, state) };
    need(r.method === "PUT", "settings are read with GET and written with PUT");
    const ifMatch = r.headers["if-match"];
    need(typeof ifMatch === "string" && ifMatch.length > 0, "If-Match (the entity_tag) is required");
    if (ifMatch !== state.entity_tag)
      return {
        status: 412,
        body: { errors: [{ code: "precondition_failed", message: "entity_tag does not match" }] },
      };
    const body = parseJson(r);
    const value = body.allowed_ip_addresses;
    need(typeof value === "string", "allowed_ip_addresses is a string");
    need(!/\s/.test(value), "allowed_ip_addresses: comma-separated, without spaces");
    if (value) {
      const parsed = parseAllowlist(value.split(",").join("\n"), "put");
      need(
        !parsed.errors.length && parsed.list.entries.length === value.split(",").length,
        `allowed_ip_addresses: bad entry in ${value}`,
      );
    }
    state.allowed_ip_addresses = value;
    bump(state);
    return { status: 200, body: settingsBody(id, state) };
  });
  return Object.assign(fake, {
    accounts,
    tokensIssued: () => issued,
    changeBehindOurBack(account: string, value: string) {
      const s = accounts.get(account)!;
      s.allowed_ip_addresses = value;
      bump(s);
    },
  });
}
