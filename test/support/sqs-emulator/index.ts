import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

// A local Amazon SQS speaking the JSON protocol (awsJson1_0) as the SDK v3 client sends it:
// POST / with `X-Amz-Target: AmazonSQS.<Operation>` and a JSON body, SigV4-signed for "sqs".
// It keeps SQS's semantics that matter to a consumer: visibility timeouts, receive counts, long
// polling, receipt handles that change on every receive (deleting with a stale one succeeds but
// deletes nothing, as documented), batch results per entry, and the errors of the API reference.

export interface EmuMessage {
  id: string;
  body: string;
  md5: string;
  attributes: Record<string, { DataType: string; StringValue?: string }>;
  sentAt: number;
  receiveCount: number;
  firstReceiveAt?: number;
  visibleAt: number;
  receipt?: string;
  deleted: boolean;
}

export interface EmuQueue {
  name: string;
  url: string;
  messages: EmuMessage[];
  visibilityTimeout: number;
}

export interface CallRecord {
  op: string;
  body: Record<string, unknown>;
}

export interface SqsEmulator {
  url: string;
  account: string;
  createQueue(name: string, opts?: { visibilityTimeout?: number }): EmuQueue;
  queue(name: string): EmuQueue;
  send(queue: string, body: string): EmuMessage;
  /** Messages not deleted. */
  remaining(queue: string): EmuMessage[];
  calls: CallRecord[];
  /** Every way a client broke the documented API; a test expects this to stay empty. */
  violations: string[];
  close(): Promise<void>;
}

const md5 = (s: string) => createHash("md5").update(s, "utf8").digest("hex");

class SqsError extends Error {
  constructor(
    readonly type: string,
    readonly queryCode: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=[A-Z0-9]{16,128}\/\d{8}\/[a-z0-9-]+\/sqs\/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}$/;

export async function startSqsEmulator(
  opts: { account?: string; clock?: () => number } = {},
): Promise<SqsEmulator> {
  const account = opts.account ?? "123456789012";
  const now = opts.clock ?? Date.now;
  const queues = new Map<string, EmuQueue>();
  const calls: CallRecord[] = [];
  const violations: string[] = [];
  let base = "";
  let closing = false;

  const byUrl = (url: unknown): EmuQueue => {
    if (typeof url !== "string")
      throw new SqsError("InvalidAddress", "InvalidAddress", "QueueUrl is required");
    const name = url.split("/").pop() ?? "";
    const q = queues.get(name);
    if (!q || !url.endsWith(`/${account}/${name}`))
      throw new SqsError(
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
      );
    return q;
  };
  const int = (v: unknown, name: string, min: number, max: number, def: number): number => {
    if (v === undefined) return def;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      throw new SqsError(
        "InvalidParameterValue",
        "InvalidParameterValue",
        `Value ${String(v)} for parameter ${name} is invalid. Reason: must be between ${min} and ${max}.`,
      );
    return v;
  };
  const inflightBy = (q: EmuQueue, handle: unknown) => {
    if (typeof handle !== "string" || !handle)
      throw new SqsError(
        "ReceiptHandleIsInvalid",
        "ReceiptHandleIsInvalid",
        "The input receipt handle is invalid.",
      );
    const m = q.messages.find((x) => !x.deleted && x.receipt === handle);
    // A handle of an earlier receive (or of a deleted message) is well-formed: SQS accepts it.
    if (!m && !/^rh-/.test(handle))
      throw new SqsError(
        "ReceiptHandleIsInvalid",
        "ReceiptHandleIsInvalid",
        "The input receipt handle is invalid.",
      );
    return m;
  };

  const enqueue = (
    q: EmuQueue,
    body: string,
    attributes: EmuMessage["attributes"] = {},
    delay = 0,
  ): EmuMessage => {
    const m: EmuMessage = {
      id: randomUUID(),
      body,
      md5: md5(body),
      attributes,
      sentAt: now(),
      receiveCount: 0,
      visibleAt: now() + delay * 1000,
      deleted: false,
    };
    q.messages.push(m);
    return m;
  };

  const receiveNow = (q: EmuQueue, max: number, visibility: number, wanted: Set<string>) => {
    const t = now();
    const out: Record<string, unknown>[] = [];
    for (const m of q.messages) {
      if (out.length >= max) break;
      if (m.deleted || m.visibleAt > t) continue;
      m.receiveCount++;
      m.firstReceiveAt ??= t;
      m.visibleAt = t + visibility * 1000;
      m.receipt = `rh-${randomUUID()}`;
      const attrs: Record<string, string> = {};
      const all = wanted.has("All");
      if (all || wanted.has("ApproximateReceiveCount"))
        attrs.ApproximateReceiveCount = String(m.receiveCount);
      if (all || wanted.has("SentTimestamp")) attrs.SentTimestamp = String(m.sentAt);
      if (all || wanted.has("ApproximateFirstReceiveTimestamp"))
        attrs.ApproximateFirstReceiveTimestamp = String(m.firstReceiveAt);
      out.push({
        MessageId: m.id,
        ReceiptHandle: m.receipt,
        MD5OfBody: m.md5,
        Body: m.body,
        ...(Object.keys(attrs).length ? { Attributes: attrs } : {}),
      });
    }
    return out;
  };

  const ops: Record<
    string,
    (b: Record<string, unknown>, req: IncomingMessage) => Promise<unknown> | unknown
  > = {
    GetQueueUrl: (b) => {
      const q = queues.get(String(b.QueueName));
      if (!q)
        throw new SqsError(
          "QueueDoesNotExist",
          "AWS.SimpleQueueService.NonExistentQueue",
          "The specified queue does not exist.",
        );
      return { QueueUrl: q.url };
    },
    SendMessage: (b) => {
      const q = byUrl(b.QueueUrl);
      if (typeof b.MessageBody !== "string" || !b.MessageBody)
        throw new SqsError(
          "MissingParameter",
          "MissingParameter",
          "The request must contain the parameter MessageBody.",
        );
      if (Buffer.byteLength(b.MessageBody) > 262_144)
        throw new SqsError(
          "InvalidParameterValue",
          "InvalidParameterValue",
          "Message must be shorter than 262144 bytes.",
        );
      const m = enqueue(
        q,
        b.MessageBody,
        (b.MessageAttributes as EmuMessage["attributes"]) ?? {},
        int(b.DelaySeconds, "DelaySeconds", 0, 900, 0),
      );
      return { MessageId: m.id, MD5OfMessageBody: m.md5 };
    },
    ReceiveMessage: async (b, req) => {
      const q = byUrl(b.QueueUrl);
      const max = int(b.MaxNumberOfMessages, "MaxNumberOfMessages", 1, 10, 1);
      const visibility = int(b.VisibilityTimeout, "VisibilityTimeout", 0, 43_200, q.visibilityTimeout);
      const wait = int(b.WaitTimeSeconds, "WaitTimeSeconds", 0, 20, 0);
      const wanted = new Set<string>([
        ...((b.AttributeNames as string[] | undefined) ?? []),
        ...((b.MessageSystemAttributeNames as string[] | undefined) ?? []),
      ]);
      const deadline = Date.now() + wait * 1000;
      let gone = false;
      req.once("close", () => {
        gone = true;
      });
      for (;;) {
        const got = receiveNow(q, max, visibility, wanted);
        if (got.length || Date.now() >= deadline || gone || closing)
          return got.length ? { Messages: got } : {};
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    DeleteMessage: (b) => {
      const q = byUrl(b.QueueUrl);
      const m = inflightBy(q, b.ReceiptHandle);
      if (m) m.deleted = true;
      return {};
    },
    DeleteMessageBatch: (b) => {
      const q = byUrl(b.QueueUrl);
      const entries = b.Entries as { Id: string; ReceiptHandle: string }[] | undefined;
      if (!entries?.length)
        throw new SqsError(
          "EmptyBatchRequest",
          "AWS.SimpleQueueService.EmptyBatchRequest",
          "There should be at least one entry in the request.",
        );
      if (entries.length > 10)
        throw new SqsError(
          "TooManyEntriesInBatchRequest",
          "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
          "Maximum number of entries per request are 10.",
        );
      const Successful: { Id: string }[] = [];
      const Failed: Record<string, unknown>[] = [];
      for (const e of entries) {
        try {
          const m = inflightBy(q, e.ReceiptHandle);
          if (m) m.deleted = true;
          Successful.push({ Id: e.Id });
        } catch (err) {
          Failed.push({
            Id: e.Id,
            SenderFault: true,
            Code: (err as SqsError).type,
            Message: (err as Error).message,
          });
        }
      }
      return { Successful, Failed };
    },
    ChangeMessageVisibility: (b) => {
      const q = byUrl(b.QueueUrl);
      const t = int(b.VisibilityTimeout, "VisibilityTimeout", 0, 43_200, -1);
      const m = inflightBy(q, b.ReceiptHandle);
      if (!m || m.visibleAt <= now())
        throw new SqsError(
          "MessageNotInflight",
          "AWS.SimpleQueueService.MessageNotInflight",
          "The message referred to isn't in flight.",
        );
      m.visibleAt = now() + t * 1000;
      return {};
    },
    ChangeMessageVisibilityBatch: (b) => {
      const q = byUrl(b.QueueUrl);
      const entries = b.Entries as
        | { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[]
        | undefined;
      if (!entries?.length)
        throw new SqsError(
          "EmptyBatchRequest",
          "AWS.SimpleQueueService.EmptyBatchRequest",
          "There should be at least one entry in the request.",
        );
      const Successful: { Id: string }[] = [];
      const Failed: Record<string, unknown>[] = [];
      for (const e of entries) {
        const m = q.messages.find((x) => !x.deleted && x.receipt === e.ReceiptHandle);
        if (!m || m.visibleAt <= now()) {
          Failed.push({
            Id: e.Id,
            SenderFault: true,
            Code: "MessageNotInflight",
            Message: "The message referred to isn't in flight.",
          });
          continue;
        }
        m.visibleAt = now() + int(e.VisibilityTimeout, "VisibilityTimeout", 0, 43_200, 0) * 1000;
        Successful.push({ Id: e.Id });
      }
      return { Successful, Failed };
    },
    GetQueueAttributes: (b) => {
      const q = byUrl(b.QueueUrl);
      const t = now();
      const live = q.messages.filter((m) => !m.deleted);
      return {
        Attributes: {
          ApproximateNumberOfMessages: String(live.filter((m) => m.visibleAt <= t).length),
          ApproximateNumberOfMessagesNotVisible: String(live.filter((m) => m.visibleAt > t).length),
          VisibilityTimeout: String(q.visibilityTimeout),
        },
      };
    },
  };

  const reply = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, {
      "content-type": "application/x-amz-json-1.0",
      "x-amzn-requestid": randomUUID(),
      ...headers,
    });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const op = target.startsWith("AmazonSQS.") ? target.slice("AmazonSQS.".length) : "";
      let body: Record<string, unknown> = {};
      try {
        const problems: string[] = [];
        if (req.method !== "POST") problems.push("the JSON protocol POSTs");
        if (!String(req.headers["content-type"] ?? "").startsWith("application/x-amz-json-1.0"))
          problems.push("Content-Type must be application/x-amz-json-1.0");
        if (!AUTH.test(String(req.headers.authorization ?? "")))
          problems.push("requests are signed with SigV4 for sqs");
        if (!req.headers["x-amz-date"]) problems.push("X-Amz-Date is set");
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
        } catch {
          problems.push("the body is JSON");
        }
        const handler = ops[op];
        if (!handler) problems.push(`unknown operation ${target}`);
        if (problems.length) {
          violations.push(`${op || target}: ${problems.join("; ")}`);
          throw new SqsError("InvalidAction", "InvalidAction", problems.join("; "));
        }
        calls.push({ op, body });
        reply(res, 200, await handler!(body, req));
      } catch (e) {
        const err =
          e instanceof SqsError
            ? e
            : new SqsError("InternalError", "InternalError", (e as Error).message, 500);
        reply(
          res,
          err.status,
          { __type: `com.amazonaws.sqs#${err.type}`, message: err.message },
          { "x-amzn-query-error": `${err.queryCode};${err.status < 500 ? "Sender" : "Receiver"}` },
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    account,
    createQueue(name, o = {}) {
      const q: EmuQueue = {
        name,
        url: `${base}/${account}/${name}`,
        messages: [],
        visibilityTimeout: o.visibilityTimeout ?? 30,
      };
      queues.set(name, q);
      return q;
    },
    queue: (name) => queues.get(name)!,
    send: (name, body) => enqueue(queues.get(name)!, body),
    remaining: (name) => queues.get(name)!.messages.filter((m) => !m.deleted),
    calls,
    violations,
    close: () =>
      new Promise<void>((resolve, reject) => {
        closing = true;
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
