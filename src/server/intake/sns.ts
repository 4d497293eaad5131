import { createVerify, X509Certificate } from "node:crypto";
import { z } from "zod";

// Amazon SNS HTTP(S) deliveries: every message is signed by SNS with the key of a certificate it
// serves from sns.<region>.amazonaws.com. The signature covers a canonical string of the
// message's fields (per type), SHA1withRSA for SignatureVersion 1 and SHA256withRSA for 2.
// https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html

export const snsMessageSchema = z.object({
  Type: z.enum(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]),
  MessageId: z.string().min(1),
  TopicArn: z.string().startsWith("arn:"),
  Message: z.string(),
  Timestamp: z.string().min(1),
  SignatureVersion: z.enum(["1", "2"]),
  Signature: z.string().min(1),
  SigningCertURL: z.url(),
  Subject: z.string().nullish(),
  Token: z.string().optional(),
  SubscribeURL: z.url().optional(),
  UnsubscribeURL: z.string().optional(),
});
export type SnsMessage = z.infer<typeof snsMessageSchema>;

/** True for a body that presents itself as an SNS delivery. */
export function looksLikeSns(v: unknown): boolean {
  return (
    typeof v === "object" &&
    v !== null &&
    "Type" in v &&
    "TopicArn" in v &&
    "Signature" in v &&
    "SignatureVersion" in v
  );
}

/** The string SNS signs: "Key\nValue\n" for each field of the type, in this order. */
export function stringToSign(m: SnsMessage): string {
  const keys =
    m.Type === "Notification"
      ? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
      : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
  let out = "";
  for (const k of keys) {
    const v = (m as Record<string, unknown>)[k];
    // Subject is signed only when present.
    if (v === undefined || v === null) continue;
    out += `${k}\n${String(v)}\n`;
  }
  return out;
}

export type CertFetcher = (url: string) => Promise<string>;

/** Fetches a certificate over the one HTTP client (fetch), with a timeout and no redirects. */
export const fetchCert: CertFetcher = async (url) => {
  const res = await fetch(url, { redirect: "error", signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`signing certificate: HTTP ${res.status}`);
  return res.text();
};

export interface SnsVerifier {
  /** Undefined when the signature verifies; otherwise why not, in one line. */
  verify(m: SnsMessage): Promise<string | undefined>;
}

/** Verifies signatures; certificates are cached by URL (SNS rotates them rarely). */
export function snsVerifier(opts: {
  certUrlPattern: string;
  fetch?: CertFetcher;
  maxCached?: number;
}): SnsVerifier {
  const allowed = new RegExp(opts.certUrlPattern);
  const get = opts.fetch ?? fetchCert;
  const cache = new Map<string, Promise<string>>();
  const max = opts.maxCached ?? 32;
  return {
    async verify(m) {
      if (!allowed.test(m.SigningCertURL)) return "SigningCertURL is not an SNS certificate URL";
      let pem = cache.get(m.SigningCertURL);
      if (!pem) {
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        pem = get(m.SigningCertURL).then((text) => {
          // Only a certificate is accepted: a bare key at that URL would be a misconfiguration.
          new X509Certificate(text);
          return text;
        });
        cache.set(m.SigningCertURL, pem);
        pem.catch(() => cache.delete(m.SigningCertURL));
      }
      let cert: string;
      try {
        cert = await pem;
      } catch (e) {
        return `cannot read the signing certificate (${(e as Error).message})`;
      }
      const v = createVerify(m.SignatureVersion === "1" ? "RSA-SHA1" : "RSA-SHA256");
      v.update(stringToSign(m), "utf8");
      let ok = false;
      try {
        ok = v.verify(cert, m.Signature, "base64");
      } catch {
        ok = false;
      }
      return ok ? undefined : "the SNS signature does not verify";
    },
  };
}

/** SubscribeURL must be on the same SNS host as the certificate: it is fetched to confirm. */
export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
