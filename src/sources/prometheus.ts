import { z } from "zod";
import type { MetricSample } from "../model/observations.js";
import { fetchWithRetry, HttpFailure } from "../util/http-retry.js";

// PromQL instant queries through the Prometheus HTTP API (GET /api/v1/query). Sysdig and other
// Prometheus-compatible services serve the same API under a path prefix, so `url` is the base the
// API path is appended to (https://eu1.app.sysdig.com/prometheus). A bearer token is sent when set.

export const prometheusSettings = z
  .object({
    url: z.url(),
    token: z.string().optional(),
    timeoutMs: z.number().int().min(100).default(10_000),
    /** Tries per evaluation: network errors, 429 and 5xx are tried again. */
    attempts: z.number().int().min(1).max(10).default(3),
  })
  .strict();
export type PrometheusSettings = z.infer<typeof prometheusSettings>;

// The documented envelope: https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview
const sampleValue = z.tuple([z.number(), z.string()]);
const envelope = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("success"),
    data: z.discriminatedUnion("resultType", [
      z.object({
        resultType: z.literal("vector"),
        result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: sampleValue })),
      }),
      z.object({ resultType: z.literal("scalar"), result: sampleValue }),
      z.object({ resultType: z.literal("matrix"), result: z.array(z.unknown()) }),
      z.object({ resultType: z.literal("string"), result: sampleValue }),
    ]),
    warnings: z.array(z.string()).optional(),
  }),
  z.object({ status: z.literal("error"), errorType: z.string(), error: z.string() }),
]);

/** The query could not be answered: never read as "healthy" or "no data". */
export class PrometheusError extends Error {
  override readonly name = "PrometheusError";
}

/** One series of an instant vector (or the scalar, with no labels); NaN and ±Inf kept as numbers. */
const sample = ([t, v]: [number, string], labels: Record<string, string>, query: string): MetricSample => ({
  metric: labels.__name__ ?? query,
  labels,
  value: Number(v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : v),
  time: new Date(t * 1000),
});

/** Evaluates `query` at `time` (default: the server's now). An empty vector is `[]`. */
export async function instantQuery(
  s: PrometheusSettings,
  query: string,
  time?: Date,
): Promise<{ samples: MetricSample[]; warnings: string[] }> {
  const url = new URL(`${s.url.replace(/\/+$/, "")}/api/v1/query`);
  url.searchParams.set("query", query);
  if (time) url.searchParams.set("time", String(time.getTime() / 1000));
  url.searchParams.set("timeout", `${Math.max(1, Math.floor(s.timeoutMs / 1000))}s`);
  let res: Response;
  try {
    res = await fetchWithRetry(
      "prometheus",
      url.toString(),
      {
        headers: {
          Accept: "application/json",
          "User-Agent": "iamwarden",
          ...(s.token ? { Authorization: `Bearer ${s.token}` } : {}),
        },
      },
      { timeoutMs: s.timeoutMs, attempts: s.attempts, baseDelayMs: 500 },
    );
  } catch (e) {
    if (e instanceof HttpFailure) throw new PrometheusError(e.message);
    throw e;
  }
  const text = await res.text();
  let body: z.infer<typeof envelope>;
  try {
    body = envelope.parse(JSON.parse(text));
  } catch {
    const snippet = text.replace(/\s+/g, " ").trim().slice(0, 200);
    throw new PrometheusError(
      `prometheus: HTTP ${res.status}, not a Prometheus API answer${snippet ? `: ${snippet}` : ""}`,
    );
  }
  if (body.status === "error") throw new PrometheusError(`prometheus: ${body.errorType}: ${body.error}`);
  const data = body.data;
  switch (data.resultType) {
    case "vector":
      return {
        samples: data.result.map((r) => sample(r.value, r.metric, query)),
        warnings: body.warnings ?? [],
      };
    case "scalar":
      return { samples: [sample(data.result, {}, query)], warnings: body.warnings ?? [] };
    default:
      throw new PrometheusError(
        `prometheus: the query returns a ${data.resultType}; an instant vector or scalar is needed`,
      );
  }
}
