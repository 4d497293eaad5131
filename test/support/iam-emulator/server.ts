import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { XMLBuilder } from "fast-xml-parser";
import {
  type AwsErrorSpec,
  awsError,
  EmuAwsError,
  type JsonOperation,
  type Operation,
  type OpSettings,
  type QueryOperation,
} from "./operation.js";
import { readOps } from "./read-ops.js";
import { createState, type EmuPrincipal, type EmuState } from "./state.js";

// A local endpoint that speaks the AWS IAM and STS query protocols and the Organizations JSON 1.1
// protocol, as the SDK v3 clients send them. It checks what AWS checks before running an
// operation: SigV4 Authorization header and scope, session token, Action and Version, required
// parameters; then applies the configured latency, rate limit and faults.

export interface CallInfo {
  service: string;
  action: string;
  account: string;
  principal: EmuPrincipal;
  params: Record<string, unknown>;
}

export interface EmulatorOptions {
  state?: EmuState;
  /** Added to every response (throttled and failed ones too), like a network round trip. */
  latencyMs?: number;
  /** Requests per second over all actions; beyond it the answer is Throttling. */
  rateLimit?: number;
  /** Bucket size of the rate limit (default: one second's worth). */
  burst?: number;
  pageCap?: number;
  reportDelayMs?: number;
  orgPageSize?: number;
  /** Accounts in which every IAM call answers AccessDenied. */
  accessDenied?: string[];
  /** Called for every admitted call; returning an error answers with it instead. */
  fault?: (call: CallInfo) => AwsErrorSpec | undefined;
  /** More operations (write-ops…); one with the same action replaces the built-in. */
  operations?: Operation[];
  clock?: () => Date;
}

export interface CallCounter {
  total: number;
  throttled: number;
  byAction: Record<string, number>;
  reset(): void;
}

export interface IamEmulator {
  url: string;
  state: EmuState;
  calls: CallCounter;
  /** Options that may change while running (latency, rate limit, faults…). */
  options: EmulatorOptions;
  close(): Promise<void>;
}

const NAMESPACES: Record<QueryOperation["service"], string> = {
  iam: "https://iam.amazonaws.com/doc/2010-05-08/",
  sts: "https://sts.amazonaws.com/doc/2011-06-15/",
};

const xml = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", suppressEmptyNode: false });

const isoSeconds = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** Query protocol shapes: lists as <member>, timestamps as ISO 8601, undefined left out. */
function toXmlValue(v: unknown): unknown {
  if (v instanceof Date) return isoSeconds(v);
  if (Array.isArray(v)) return { member: v.map(toXmlValue) };
  if (typeof v === "boolean" || typeof v === "number") return String(v);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, toXmlValue(x)]),
    );
  return v;
}

/** JSON protocol timestamps are epoch seconds (the holder still has the Date before toJSON). */
function jsonReplacer(this: Record<string, unknown>, k: string, v: unknown): unknown {
  const original = this[k];
  return original instanceof Date ? original.getTime() / 1000 : v;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=[0-9a-f]{64}$/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startIamEmulator(opts: EmulatorOptions = {}): Promise<IamEmulator> {
  const state = opts.state ?? createState();
  const query = new Map<string, QueryOperation>();
  const json = new Map<string, JsonOperation>();
  for (const op of [...readOps, ...(opts.operations ?? [])]) {
    if (op.protocol === "query") query.set(`${op.version}:${op.action}`, op);
    else json.set(op.target, op);
  }

  const calls: CallCounter = {
    total: 0,
    throttled: 0,
    byAction: {},
    reset() {
      this.total = 0;
      this.throttled = 0;
      this.byAction = {};
    },
  };

  let tokens = opts.burst ?? opts.rateLimit ?? 0;
  let refilledAt = Date.now();
  const admit = (): boolean => {
    const rate = opts.rateLimit;
    if (!rate) return true;
    const now = Date.now();
    tokens = Math.min(opts.burst ?? rate, tokens + ((now - refilledAt) / 1000) * rate);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  const settings = (): OpSettings => ({
    pageCap: opts.pageCap,
    reportDelayMs: opts.reportDelayMs ?? 200,
    orgPageSize: opts.orgPageSize ?? 10,
  });

  /** Finds who signed the request, as AWS does from the Authorization header. */
  function authenticate(req: IncomingMessage, service: string): EmuPrincipal {
    const auth = req.headers.authorization;
    if (!auth) throw awsError("MissingAuthenticationToken", "Request is missing Authentication Token", 403);
    const m = AUTH.exec(auth);
    if (!m) throw awsError("IncompleteSignature", "Authorization header is not a SigV4 signature", 400);
    const [, keyId, day, , scopeService] = m as unknown as [string, string, string, string, string];
    const amzDate = req.headers["x-amz-date"];
    if (typeof amzDate !== "string" || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day)
      throw awsError("IncompleteSignature", "X-Amz-Date is missing or does not match the credential scope");
    if (scopeService !== service)
      throw awsError(
        "SignatureDoesNotMatch",
        `Credential should be scoped to correct service: '${service}'.`,
        403,
      );
    const known = state.principals.get(keyId);
    if (keyId.startsWith("ASIA") || known?.sessionToken) {
      if (!known || req.headers["x-amz-security-token"] !== known.sessionToken)
        throw awsError("InvalidClientTokenId", "The security token included in the request is invalid.", 403);
      return known;
    }
    return (
      known ?? {
        account: state.homeAccount,
        arn: `arn:${state.partition}:iam::${state.homeAccount}:user/emulator-caller`,
        userId: "AIDAEMULATORCALLER01",
      }
    );
  }

  async function handle(
    req: IncomingMessage,
    body: string,
  ): Promise<{ status: number; type: string; text: string }> {
    const requestId = randomUUID();
    const target = req.headers["x-amz-target"];
    const isJson = typeof target === "string";
    let service = "iam";
    let action = "";
    let namespace = NAMESPACES.iam;

    const render = (e: AwsErrorSpec) =>
      isJson
        ? {
            status: e.status ?? 400,
            type: "application/x-amz-json-1.1",
            text: JSON.stringify({ __type: e.code, message: e.message }),
          }
        : {
            status: e.status ?? 400,
            type: "text/xml",
            text: xml.build({
              ErrorResponse: {
                "@_xmlns": namespace,
                Error: { Type: e.type ?? "Sender", Code: e.code, Message: e.message },
                RequestId: requestId,
              },
            }),
          };

    try {
      if (req.method !== "POST" || (req.url ?? "/").split("?")[0] !== "/")
        throw awsError("InvalidAction", `Unsupported ${req.method} ${req.url}`, 400);
      let op: Operation;
      let params: Record<string, string> = {};
      let input: Record<string, unknown> = {};
      if (isJson) {
        const found = json.get(target);
        if (!found) throw awsError("UnknownOperationException", `Unknown operation ${target}`);
        if (req.headers["content-type"] !== "application/x-amz-json-1.1")
          throw awsError("SerializationException", "Content-Type must be application/x-amz-json-1.1");
        op = found;
        service = found.service;
        action = target.split(".").pop()!;
        try {
          input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
        } catch {
          throw awsError("SerializationException", "Request body is not JSON");
        }
      } else {
        if (!String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded"))
          throw awsError("InvalidQueryParameter", "Content-Type must be application/x-www-form-urlencoded");
        params = Object.fromEntries(new URLSearchParams(body));
        if (!params.Action) throw awsError("MissingAction", "The request must contain the parameter Action");
        action = params.Action;
        const found = query.get(`${params.Version}:${action}`);
        if (!found)
          throw awsError("InvalidAction", `Could not find operation ${action} for version ${params.Version}`);
        op = found;
        service = found.service;
        namespace = NAMESPACES[found.service];
      }

      const principal = authenticate(req, service);
      calls.total++;
      calls.byAction[action] = (calls.byAction[action] ?? 0) + 1;
      if (!admit()) {
        calls.throttled++;
        throw isJson
          ? awsError("TooManyRequestsException", "Rate exceeded")
          : awsError("Throttling", "Rate exceeded");
      }
      for (const name of op.required ?? []) {
        const present = isJson ? input[name] !== undefined : params[name] !== undefined;
        if (!present)
          throw isJson
            ? awsError("InvalidInputException", `Missing required parameter ${name}`)
            : awsError("MissingParameter", `The request must contain the parameter ${name}`);
      }
      const account = state.accounts.get(principal.account);
      if (!account)
        throw awsError("InvalidClientTokenId", "The security token included in the request is invalid.", 403);
      if (service === "iam" && opts.accessDenied?.includes(account.id))
        throw awsError(
          "AccessDenied",
          `User: ${principal.arn} is not authorized to perform: iam:${action} on resource: arn:${state.partition}:iam::${account.id}:user/`,
          403,
        );
      const injected = opts.fault?.({
        service,
        action,
        account: account.id,
        principal,
        params: isJson ? input : params,
      });
      if (injected) throw new EmuAwsError(injected);

      const ctx = { state, account, principal, now: opts.clock?.() ?? new Date(), settings: settings() };
      if (op.protocol === "json") {
        return {
          status: 200,
          type: "application/x-amz-json-1.1",
          text: JSON.stringify(op.handle(input, ctx), jsonReplacer),
        };
      }
      const result = op.handle(params, ctx);
      return {
        status: 200,
        type: "text/xml",
        text: xml.build({
          [`${action}Response`]: {
            "@_xmlns": namespace,
            ...(result ? { [`${action}Result`]: toXmlValue(result) } : {}),
            ResponseMetadata: { RequestId: requestId },
          },
        }),
      };
    } catch (e) {
      if (e instanceof EmuAwsError) return render(e.spec);
      return render({
        code: isJson ? "ServiceException" : "ServiceFailure",
        message: (e as Error).message,
        status: 500,
        type: "Receiver",
      });
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const out = await handle(req, Buffer.concat(chunks).toString("utf8"));
      if (opts.latencyMs) await sleep(opts.latencyMs);
      res.writeHead(out.status, {
        "content-type": out.type,
        "content-length": Buffer.byteLength(out.text),
        "x-amzn-requestid": randomUUID(),
      });
      res.end(out.text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    state,
    calls,
    options: opts,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
