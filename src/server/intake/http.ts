import type { FastifyInstance } from "fastify";
import { describeProblem } from "../../model/event.js";
import type { ServerContext } from "../context.js";
import type { Intake } from "../metrics.js";
import { looksLikeSns, sameOrigin, snsMessageSchema } from "./sns.js";

// POST /v1/events: EventBridge API destinations, SNS HTTPS subscriptions, and plain JSON or JSON
// lines of CloudTrail, EventBridge or Activity Tracker events. A body is read whole and judged
// whole: one bad record refuses the request (400, one line) and nothing of it is stored.

export function registerEventIntake(app: FastifyInstance, ctx: ServerContext): void {
  app.register(async (scope) => {
    // Bodies are read as text whatever their type (SNS posts text/plain; JSON lines have many).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));

    scope.post("/v1/events", async (req, reply) => {
      const text = typeof req.body === "string" ? req.body : "";
      let intake: Intake = "http";
      let payload = text;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        value = undefined;
      }
      const snsType = req.headers["x-amz-sns-message-type"];
      if (snsType || looksLikeSns(value)) {
        intake = "sns";
        const parsed = snsMessageSchema.safeParse(value);
        if (!parsed.success) {
          ctx.metrics.rejected(intake, "malformed");
          const i = parsed.error.issues[0]!;
          return reply.code(400).send({ error: `SNS message: ${i.path.join(".") || "body"}: ${i.message}` });
        }
        const m = parsed.data;
        const why = await ctx.sns.verify(m);
        if (why) {
          ctx.metrics.rejected(intake, "signature");
          req.log.warn({ topic: m.TopicArn, messageId: m.MessageId, why }, "SNS message refused");
          return reply.code(403).send({ error: why });
        }
        const topics = ctx.loaded.config.serve.intake.sns.topicArns;
        if (topics.length && !topics.includes(m.TopicArn)) {
          ctx.metrics.rejected(intake, "topic");
          return reply.code(403).send({ error: `topic ${m.TopicArn} is not in serve.intake.sns.topicArns` });
        }
        if (m.Type === "SubscriptionConfirmation") {
          if (!m.SubscribeURL || !sameOrigin(m.SubscribeURL, m.SigningCertURL))
            return reply
              .code(400)
              .send({ error: "SubscribeURL is not on the SNS host that signed the message" });
          await ctx.confirmSubscription(m.SubscribeURL);
          req.log.info({ topic: m.TopicArn }, "SNS subscription confirmed");
          return { confirmed: m.TopicArn };
        }
        if (m.Type === "UnsubscribeConfirmation") {
          req.log.warn({ topic: m.TopicArn }, "SNS subscription ended");
          return { unsubscribed: m.TopicArn };
        }
        payload = m.Message;
      }

      const doc = ctx.deps.parse(payload, intake === "sns" ? "SNS message" : "body");
      if (doc.problems.length) {
        ctx.metrics.rejected(intake, "malformed");
        const more = doc.problems.length > 1 ? ` (and ${doc.problems.length - 1} more)` : "";
        return reply.code(400).send({ error: `${describeProblem(doc.problems[0]!)}${more}` });
      }
      ctx.metrics.eventsReceived(intake, doc.events.length);
      const out = await ctx.ingest(intake, doc.events);
      return {
        events: doc.events.length,
        ignored: doc.ignored,
        opened: out.opened,
        refreshed: out.refreshed,
        findings: out.findings.map((f) => f.id),
      };
    });
  });
}
