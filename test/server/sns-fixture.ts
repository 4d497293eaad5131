import { execFileSync } from "node:child_process";
import { createSign, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringToSign } from "../../src/server/intake/sns.js";

// An SNS stand-in: a self-signed certificate (made by openssl) served over HTTP with its key,
// messages signed the way SNS signs them, and a SubscribeURL that records its confirmations.

export interface SnsFixture {
  certUrl: string;
  /** Matches certUrl and nothing on other hosts (for serve.intake.sns.certUrlPattern). */
  certUrlPattern: string;
  confirmations: string[];
  message(
    type: "Notification" | "SubscriptionConfirmation",
    message: string,
    o?: { version?: "1" | "2"; topic?: string },
  ): Record<string, string>;
  close(): Promise<void>;
}

export const TOPIC = "arn:aws:sns:us-east-1:123456789012:iamwarden-events";

export async function startSnsFixture(): Promise<SnsFixture> {
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-sns-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=sns.us-east-1.amazonaws.com",
    ],
    { stdio: "ignore" },
  );
  const key = readFileSync(join(dir, "key.pem"), "utf8");
  const cert = readFileSync(join(dir, "cert.pem"), "utf8");
  const confirmations: string[] = [];
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/SimpleNotificationService-")) {
      res.writeHead(200, { "content-type": "application/x-pem-file" });
      res.end(cert);
    } else if (req.url?.startsWith("/?Action=ConfirmSubscription")) {
      confirmations.push(req.url);
      res.writeHead(200, { "content-type": "text/xml" });
      res.end("<ConfirmSubscriptionResponse/>");
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const certUrl = `${base}/SimpleNotificationService-0123456789abcdef.pem`;
  return {
    certUrl,
    certUrlPattern: `^${base.replace(/[.:/]/g, (c) => `\\${c}`)}/[^?#]*\\.pem$`,
    confirmations,
    message(type, message, o = {}) {
      const version = o.version ?? "2";
      const m: Record<string, string> = {
        Type: type,
        MessageId: randomUUID(),
        TopicArn: o.topic ?? TOPIC,
        Message: message,
        Timestamp: new Date().toISOString(),
        SignatureVersion: version,
        SigningCertURL: certUrl,
      };
      if (type === "Notification") {
        m.Subject = "CloudTrail event";
        m.UnsubscribeURL = `${base}/?Action=Unsubscribe`;
      } else {
        m.Token = "token-123";
        m.SubscribeURL = `${base}/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(m.TopicArn!)}&Token=token-123`;
      }
      const signer = createSign(version === "1" ? "RSA-SHA1" : "RSA-SHA256");
      signer.update(stringToSign(m as never), "utf8");
      m.Signature = signer.sign(key, "base64");
      return m;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
