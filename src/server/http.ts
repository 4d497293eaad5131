import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { registerApi } from "./api.js";
import { presentedToken, tokenMatches } from "./auth.js";
import type { ServerContext } from "./context.js";
import { DASHBOARD_HTML, DASHBOARD_JS } from "./dashboard/page.js";
import { registerEventIntake } from "./intake/http.js";
import { openApiDocument } from "./openapi.js";

// The HTTP side of the service: health, metrics, the JSON API and its OpenAPI document, event
// intake, and the dashboard. Everything under /v1 needs the token; /metrics and the health probes
// need it unless the config leaves them open. The dashboard page itself holds no data.

const OPEN_ALWAYS = new Set(["/", "/dashboard.js", "/openapi.json"]);

/** Pages are only our own files; the API is JSON. */
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

export function buildServer(ctx: ServerContext): FastifyInstance {
  const serve = ctx.loaded.config.serve;
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: serve.bodyLimit,
    // One debug line per request (onResponse) instead of fastify's two at info.
    logController: new LogController({ disableRequestLogging: true }),
    // Behind a load balancer the client is the balancer; nothing here depends on the address.
    trustProxy: false,
    return503OnClosing: true,
  });

  app.addHook("onRequest", async (req, reply) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    const path = req.url.split("?")[0] ?? "";
    const token = serve.token;
    if (!token || OPEN_ALWAYS.has(path)) return;
    if (path === "/metrics" && serve.openMetrics) return;
    if ((path === "/healthz" || path === "/readyz") && serve.openHealth) return;
    if (tokenMatches(token, presentedToken(req.headers))) return;
    if (path === "/v1/events") ctx.metrics.rejected("http", "unauthorized");
    reply.header("www-authenticate", 'Bearer realm="iamwarden"');
    return reply.code(401).send({ error: "missing or wrong token" });
  });

  app.addHook("onResponse", async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url.split("?")[0], status: reply.statusCode }, "request");
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) req.log.error({ err: err.message }, "request failed");
    // fastify's own 4xx (body too large, bad content) are one line already.
    reply.code(status).send({ error: status >= 500 ? "internal error (see the service log)" : err.message });
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const why = await ctx.ready();
    if (why) return reply.code(503).send({ status: "not ready", error: why });
    return { status: "ready" };
  });
  app.get("/metrics", async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
  app.get("/openapi.json", async () => openApiDocument);
  app.get("/", async (_req, reply) =>
    reply.type("text/html; charset=utf-8").header("content-security-policy", PAGE_CSP).send(DASHBOARD_HTML),
  );
  app.get("/dashboard.js", async (_req, reply) =>
    reply.type("text/javascript; charset=utf-8").header("cache-control", "no-cache").send(DASHBOARD_JS),
  );

  registerApi(app, ctx);
  if (serve.intake.http) registerEventIntake(app, ctx);
  return app;
}

/** `host:port` or a bare port (all interfaces). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) throw new Error(`serve.listen: not host:port or a port: ${listen}`);
  return { host: m[1] || "0.0.0.0", port };
}

export const isLoopback = (host: string) => /^(127\.|::1$|localhost$)/.test(host);
