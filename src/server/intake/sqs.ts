import { type Message, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { Consumer } from "sqs-consumer";
import type { ServeConfig } from "../../config/schema.js";
import { describeProblem, type IamEvent } from "../../model/event.js";
import type { ParsedDocument, RunLog } from "../deps.js";
import type { ServiceMetrics } from "../metrics.js";

// SQS long polling of a queue an EventBridge rule (or an SNS topic) feeds. A batch's events are
// stored first and its messages deleted after: a crash in between redelivers them, and the event
// checks count a redelivered event once (by event id). Visibility is extended while a batch is
// being processed. A message that cannot be read, or that was received more than maxReceives
// times, is moved aside: to deadLetterQueueUrl when set, else left to the queue's redrive policy.

export type SqsSettings = NonNullable<ServeConfig["intake"]["sqs"]>;

export interface SqsIntakeOptions {
  settings: SqsSettings;
  client: SQSClient;
  parse(text: string, name: string): ParsedDocument;
  /** Judges and stores the events; resolves once they are stored. */
  store(events: IamEvent[]): Promise<void>;
  metrics: ServiceMetrics;
  log: RunLog;
  /** How long a stop waits for a batch in hand to be stored. */
  stopWaitMs: number;
}

export interface SqsIntake {
  /** Stops polling; a batch being stored is finished (and deleted), one not begun is released. */
  stop(): Promise<void>;
  readonly polling: boolean;
}

/** The body an SNS topic delivers to SQS without raw delivery wraps the message. */
function unwrap(body: string): string {
  if (!body.includes('"TopicArn"')) return body;
  try {
    const v = JSON.parse(body) as { Type?: unknown; Message?: unknown; TopicArn?: unknown };
    if (v.Type === "Notification" && typeof v.Message === "string") return v.Message;
  } catch {
    // not JSON: parsed (and reported) as it is below
  }
  return body;
}

export function startSqsIntake(o: SqsIntakeOptions): SqsIntake {
  const s = o.settings;
  let stopping = false;
  let processing = 0;

  const moveAside = async (m: Message, reason: string): Promise<boolean> => {
    o.metrics.rejected("sqs", reason.startsWith("received") ? "poison" : "malformed");
    if (!s.deadLetterQueueUrl) {
      o.log.warn({ messageId: m.MessageId, reason }, "SQS message left for the queue's redrive policy");
      return false;
    }
    await o.client.send(
      new SendMessageCommand({
        QueueUrl: s.deadLetterQueueUrl,
        MessageBody: m.Body ?? "",
        MessageAttributes: {
          "iamwarden-reason": { DataType: "String", StringValue: reason.slice(0, 250) },
          "iamwarden-source-message-id": { DataType: "String", StringValue: m.MessageId ?? "" },
        },
      }),
    );
    o.log.warn({ messageId: m.MessageId, reason }, "SQS message moved to the dead-letter queue");
    return true;
  };

  const handleMessageBatch = async (messages: Message[]): Promise<Message[]> => {
    // Received while stopping: not begun, so released (the consumer makes them visible again).
    if (stopping) throw new Error("stopping: messages released");
    processing++;
    try {
      const done: Message[] = [];
      const events: IamEvent[] = [];
      const taken: Message[] = [];
      for (const m of messages) {
        const received = Number(m.Attributes?.ApproximateReceiveCount ?? "1");
        if (s.maxReceives > 0 && received > s.maxReceives) {
          if (
            await moveAside(m, `received ${received} times (serve.intake.sqs.maxReceives ${s.maxReceives})`)
          )
            done.push(m);
          continue;
        }
        const doc = o.parse(unwrap(m.Body ?? ""), `SQS message ${m.MessageId}`);
        if (doc.problems.length) {
          if (await moveAside(m, describeProblem(doc.problems[0]!))) done.push(m);
          continue;
        }
        events.push(...doc.events);
        taken.push(m);
      }
      o.metrics.eventsReceived("sqs", events.length);
      if (events.length) await o.store(events);
      return [...done, ...taken];
    } finally {
      processing--;
    }
  };

  const consumer = Consumer.create({
    queueUrl: s.queueUrl,
    sqs: o.client,
    batchSize: s.batchSize,
    waitTimeSeconds: s.waitTimeSeconds,
    visibilityTimeout: s.visibilityTimeout,
    // Extended while a batch is stored, well before it would lapse.
    heartbeatInterval: Math.max(1, Math.floor(s.visibilityTimeout / 3)),
    attributeNames: [],
    messageSystemAttributeNames: ["ApproximateReceiveCount"],
    terminateVisibilityTimeout: true,
    pollingCompleteWaitTimeMs: o.stopWaitMs,
    handleMessageBatch,
    strictReturn: true,
    suppressFifoWarning: true,
  });
  // A failing queue (denied, unreachable) is polled again after a growing pause, not at once.
  let pause = 0;
  consumer.on("error", (err) => {
    pause = Math.min(30_000, pause ? pause * 2 : 500);
    consumer.updateOption("pollingWaitTimeMs", pause);
    o.log.warn({ err: err.message, retryInMs: pause }, "SQS intake");
  });
  const healthy = () => {
    if (!pause) return;
    pause = 0;
    consumer.updateOption("pollingWaitTimeMs", 0);
  };
  consumer.on("empty", healthy);
  consumer.on("response_processed", healthy);
  consumer.on("processing_error", (err) => o.log.warn({ err: err.message }, "SQS batch not stored"));
  consumer.start();

  return {
    get polling() {
      return consumer.status.isRunning;
    },
    async stop() {
      stopping = true;
      const stopped = new Promise<void>((r) => consumer.once("stopped", () => r()));
      // Nothing in hand: abort the long poll at once. A batch in hand is finished first.
      consumer.stop({ abort: processing === 0 });
      await stopped;
    },
  };
}
