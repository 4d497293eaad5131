import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { FINDING_STATUSES, SEVERITIES } from "../model/finding.js";
import { presentFinding } from "../outputs/present.js";
import { createRunContext, newRunId } from "../run/context.js";
import { resolveFinding } from "../run/findings.js";
import { maskKeyIdsIn } from "../util/mask.js";
import type { ServerContext } from "./context.js";

// The JSON API, read-mostly: findings (filters as `findings list`), one finding with its history,
// events, audit entries and notifications, resolving by hand, the audit log, the outbox, runs.

/** `?status=open,resolved` and `?status=open&status=resolved` alike. */
const list = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      (Array.isArray(v) ? v : [v])
        .flatMap((s) => s.split(","))
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));

const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), "not an ISO date-time")
  .transform((s) => new Date(s).toISOString());

export const findingsQuery = z
  .object({
    status: list(z.enum(FINDING_STATUSES)).optional(),
    check: list(z.string().min(1)).optional(),
    account: list(z.string().regex(/^[\w-]{1,64}$/)).optional(),
    severity: list(z.enum(SEVERITIES)).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

export const auditQuery = z
  .object({
    since: isoTime.optional(),
    account: z.string().optional(),
    findingId: z.string().optional(),
    runId: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

export const outboxQuery = z
  .object({
    status: list(z.enum(["pending", "delivered", "failed"])).optional(),
    findingId: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

export const runsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict();

export const resolveBody = z.object({ reason: z.string().trim().min(1).max(1000) }).strict();

/** A zod failure as one line: `status: Invalid option…`. */
export function oneLine(e: z.ZodError, what: string): string {
  const i = e.issues[0]!;
  const path = i.path.join(".");
  return `${what}${path ? ` ${path}` : ""}: ${i.message}`.replace(/\s+/g, " ");
}

export function badRequest(reply: FastifyReply, error: string) {
  return reply.code(400).send({ error });
}

function parse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
  reply: FastifyReply,
): z.infer<T> | undefined {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  void badRequest(reply, oneLine(r.error, what));
  return undefined;
}

export function registerApi(app: FastifyInstance, ctx: ServerContext): void {
  const show = (f: Parameters<typeof presentFinding>[0]) => presentFinding(f, ctx.showKeyIds);
  // Audit entries and notifications name keys in free text too: masked as a whole.
  const mask = <T>(v: T): T => (ctx.showKeyIds ? v : (JSON.parse(maskKeyIdsIn(JSON.stringify(v))) as T));

  app.get("/v1/findings", async (req, reply) => {
    const q = parse(findingsQuery, req.query, "query", reply);
    if (!q) return reply;
    const all = await ctx.store.listFindings({
      status: q.status,
      check: q.check,
      account: q.account,
      severity: q.severity,
    });
    const page = all.slice(q.offset, q.offset + q.limit);
    const next = q.offset + page.length < all.length ? q.offset + page.length : undefined;
    return { total: all.length, offset: q.offset, limit: q.limit, next, findings: page.map(show) };
  });

  // Finding ids hold slashes (check/account/hash): the rest of the path is the id.
  app.get("/v1/findings/*", async (req, reply) => {
    const id = (req.params as { "*": string })["*"];
    const f = id ? await ctx.store.getFinding(id) : undefined;
    if (!f) return reply.code(404).send({ error: `no finding matches ${id}` });
    const [history, audit, outbox] = await Promise.all([
      ctx.store.findingEvents(f.id),
      ctx.store.listAudit({ findingId: f.id }),
      ctx.store.listOutbox({ findingId: f.id }),
    ]);
    return { finding: show(f), history: mask(history), audit: mask(audit), outbox: mask(outbox) };
  });

  app.post("/v1/findings/*", async (req, reply) => {
    const rest = (req.params as { "*": string })["*"];
    if (!rest.endsWith("/resolve")) return reply.code(404).send({ error: "not found" });
    const body = parse(resolveBody, req.body, "body", reply);
    if (!body) return reply;
    const id = rest.slice(0, -"/resolve".length);
    const f = await ctx.store.getFinding(id);
    if (!f) return reply.code(404).send({ error: `no finding matches ${id}` });
    if (f.status === "resolved") return reply.code(409).send({ error: `${f.id} is already resolved` });
    const now = ctx.clock.now();
    const run = createRunContext({
      loaded: ctx.loaded,
      store: ctx.store,
      now,
      actor: `${ctx.actor} (API)`,
      runId: `${newRunId(now)}-api`,
    });
    const updated = await resolveFinding(run, f.id, body.reason);
    return { finding: show(updated) };
  });

  app.get("/v1/audit", async (req, reply) => {
    const q = parse(auditQuery, req.query, "query", reply);
    if (!q) return reply;
    const entries = await ctx.store.listAudit({
      since: q.since,
      account: q.account,
      findingId: q.findingId,
      runId: q.runId,
    });
    return { total: entries.length, audit: mask(entries.slice(-q.limit).reverse()) };
  });

  app.get("/v1/outbox", async (req, reply) => {
    const q = parse(outboxQuery, req.query, "query", reply);
    if (!q) return reply;
    const items = await ctx.store.listOutbox({ status: q.status, findingId: q.findingId });
    return { total: items.length, outbox: mask(items.slice(-q.limit).reverse()) };
  });

  app.get("/v1/runs", async (req, reply) => {
    const q = parse(runsQuery, req.query, "query", reply);
    if (!q) return reply;
    return { runs: mask(await ctx.store.listRuns(q.limit)) };
  });
}
