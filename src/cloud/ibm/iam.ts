import { z } from "zod";
import { fetchWithRetry, HttpFailure, type RetrySettings } from "../../util/http-retry.js";

// The IBM Cloud IAM client: an access token from an API key (POST /identity/token, form-encoded,
// grant_type urn:ibm:params:oauth:grant-type:apikey), cached until shortly before it expires, and
// the account's IAM settings (GET/PUT /v1/accounts/{account_id}/settings/identity). A PUT carries
// If-Match with the entity_tag read before it: a 412 means someone changed the settings since.

export interface IbmIamSettings {
  apiKey: string;
  /** Token endpoint host, e.g. https://iam.cloud.ibm.com */
  iamUrl: string;
  /** Account settings host (the same service; separate for private endpoints and tests). */
  settingsUrl: string;
  timeoutMs: number;
}

const tokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string(),
  expires_in: z.number().optional(),
  expiration: z.number().optional(),
});

/** The fields iamwarden reads and writes; the API returns more, kept as they are. */
export const identitySettings = z
  .object({
    account_id: z.string().optional(),
    allowed_ip_addresses: z.string().default(""),
    entity_tag: z.string(),
  })
  .loose();
export type IdentitySettings = z.infer<typeof identitySettings>;

/** An IBM Cloud API answered with an error; `status` tells a 412 from the rest. */
export class IbmApiError extends Error {
  constructor(
    message: string,
    readonly status?: number | undefined,
  ) {
    super(message);
  }
}

export const isPreconditionFailed = (e: unknown) => e instanceof IbmApiError && e.status === 412;

/** Refresh this long before the token's expiry, so a call never starts with a dying token. */
const EARLY_MS = 60_000;

export interface IbmIamClient {
  token(): Promise<string>;
  getIdentitySettings(accountId: string): Promise<IdentitySettings>;
  /** Fails with a 412 IbmApiError when `entityTag` is no longer current. */
  putIdentitySettings(
    accountId: string,
    entityTag: string,
    patch: { allowed_ip_addresses: string },
  ): Promise<IdentitySettings>;
}

export function ibmIamClient(s: IbmIamSettings, clock: () => number = Date.now): IbmIamClient {
  const retry: RetrySettings = { timeoutMs: s.timeoutMs, attempts: 4, baseDelayMs: 500 };
  let cached: { token: string; expiresAt: number } | undefined;

  async function send(
    service: string,
    url: string,
    init: RequestInit,
  ): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetchWithRetry(service, url, init, retry);
    } catch (e) {
      if (e instanceof HttpFailure) throw new IbmApiError(e.message, e.status);
      throw e;
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    if (!res.ok) {
      // IBM error bodies: { errorCode, errorMessage } (identity) or { errors: [{ code, message }] }.
      const b = body as { errorMessage?: string; errors?: { message?: string }[] } | undefined;
      const why = b?.errorMessage ?? b?.errors?.[0]?.message ?? String(text).slice(0, 200);
      throw new IbmApiError(`${service}: HTTP ${res.status}${why ? ` ${why}` : ""}`, res.status);
    }
    return { status: res.status, body };
  }

  async function token(): Promise<string> {
    if (cached && clock() < cached.expiresAt - EARLY_MS) return cached.token;
    const { body } = await send("ibm iam token", `${s.iamUrl.replace(/\/+$/, "")}/identity/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "urn:ibm:params:oauth:grant-type:apikey",
        apikey: s.apiKey,
      }).toString(),
    });
    const t = tokenResponse.safeParse(body);
    if (!t.success) throw new IbmApiError("ibm iam token: the answer holds no access_token");
    const expiresAt = t.data.expiration
      ? t.data.expiration * 1000
      : clock() + (t.data.expires_in ?? 600) * 1000;
    cached = { token: t.data.access_token, expiresAt };
    return cached.token;
  }

  const settingsPath = (accountId: string) =>
    `${s.settingsUrl.replace(/\/+$/, "")}/v1/accounts/${encodeURIComponent(accountId)}/settings/identity`;

  const parseSettings = (service: string, body: unknown) => {
    const r = identitySettings.safeParse(body);
    if (!r.success)
      throw new IbmApiError(`${service}: not an account settings answer (${r.error.issues[0]?.message})`);
    return r.data;
  };

  return {
    token,
    async getIdentitySettings(accountId) {
      const { body } = await send("ibm account settings", settingsPath(accountId), {
        headers: { Authorization: `Bearer ${await token()}`, Accept: "application/json" },
      });
      return parseSettings("ibm account settings", body);
    },
    async putIdentitySettings(accountId, entityTag, patch) {
      const { body } = await send("ibm account settings", settingsPath(accountId), {
        method: "PUT",
        headers: {
          Authorization: `Bearer ${await token()}`,
          Accept: "application/json",
          "Content-Type": "application/json",
          "If-Match": entityTag,
        },
        body: JSON.stringify(patch),
      });
      return parseSettings("ibm account settings", body);
    },
  };
}
