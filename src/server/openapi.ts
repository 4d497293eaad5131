import { FINDING_STATUSES, SEVERITIES } from "../model/finding.js";

// The API described as data, served at /openapi.json. Requests are validated by the zod schemas
// in api.ts; this document says the same for clients and stays next to them in review.

const csv = (description: string, values?: readonly string[]) => ({
  in: "query",
  required: false,
  description: `${description} (comma-separated or repeated)`,
  schema: { type: "array", items: values ? { type: "string", enum: values } : { type: "string" } },
  style: "form",
  explode: true,
});
const intParam = (name: string, description: string, min: number, max: number, def: number) => ({
  name,
  in: "query",
  required: false,
  description,
  schema: { type: "integer", minimum: min, maximum: max, default: def },
});
const error = { $ref: "#/components/responses/Error" };
const json = (schema: unknown) => ({ content: { "application/json": { schema } } });

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "iamwarden",
    version: "0.1.0",
    description:
      "Findings, audit log, notifications and runs of an iamwarden service, and its event intake. Every path under /v1 takes the token as `Authorization: Bearer <token>`, an `x-api-key` header, or HTTP Basic with the token as password.",
  },
  security: [{ bearer: [] }, { apiKey: [] }, { basic: [] }],
  paths: {
    "/v1/findings": {
      get: {
        summary: "List findings (filters as `iamwarden findings list`), paginated",
        parameters: [
          { name: "status", ...csv("finding status", FINDING_STATUSES) },
          { name: "check", ...csv("check name") },
          { name: "account", ...csv("account id") },
          { name: "severity", ...csv("severity", SEVERITIES) },
          intParam("limit", "page size", 1, 1000, 100),
          intParam("offset", "findings skipped", 0, Number.MAX_SAFE_INTEGER, 0),
        ],
        responses: {
          "200": json({
            type: "object",
            required: ["total", "offset", "limit", "findings"],
            properties: {
              total: { type: "integer" },
              offset: { type: "integer" },
              limit: { type: "integer" },
              next: { type: "integer", description: "offset of the next page, absent on the last" },
              findings: { type: "array", items: { $ref: "#/components/schemas/Finding" } },
            },
          }),
          "400": error,
          "401": error,
        },
      },
    },
    "/v1/findings/{id}": {
      get: {
        summary: "One finding with its history, audit entries and notifications",
        description:
          "The id holds slashes (check/account/hash); send it as is or percent-encoded. A unique prefix works too.",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": json({
            type: "object",
            properties: {
              finding: { $ref: "#/components/schemas/Finding" },
              history: { type: "array", items: { type: "object" } },
              audit: { type: "array", items: { type: "object" } },
              outbox: { type: "array", items: { type: "object" } },
            },
          }),
          "401": error,
          "404": error,
        },
      },
    },
    "/v1/findings/{id}/resolve": {
      post: {
        summary: "Resolve a finding by hand (event findings stay open until a person does)",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        requestBody: {
          required: true,
          ...json({
            type: "object",
            required: ["reason"],
            additionalProperties: false,
            properties: { reason: { type: "string", minLength: 1, maxLength: 1000 } },
          }),
        },
        responses: {
          "200": json({ type: "object" }),
          "400": error,
          "401": error,
          "404": error,
          "409": error,
        },
      },
    },
    "/v1/audit": {
      get: {
        summary: "The audit log of changes made in accounts, newest first",
        parameters: [
          { name: "since", in: "query", schema: { type: "string", format: "date-time" } },
          { name: "account", in: "query", schema: { type: "string" } },
          { name: "findingId", in: "query", schema: { type: "string" } },
          { name: "runId", in: "query", schema: { type: "string" } },
          intParam("limit", "entries returned", 1, 1000, 200),
        ],
        responses: { "200": json({ type: "object" }), "400": error, "401": error },
      },
    },
    "/v1/outbox": {
      get: {
        summary: "Notifications, newest first",
        parameters: [
          { name: "status", ...csv("item status", ["pending", "delivered", "failed"]) },
          { name: "findingId", in: "query", schema: { type: "string" } },
          intParam("limit", "items returned", 1, 1000, 200),
        ],
        responses: { "200": json({ type: "object" }), "400": error, "401": error },
      },
    },
    "/v1/runs": {
      get: {
        summary: "The latest runs (scans, deliveries, remediation, intake), newest first",
        parameters: [intParam("limit", "runs returned", 1, 500, 50)],
        responses: { "200": json({ type: "object" }), "400": error, "401": error },
      },
    },
    "/v1/events": {
      post: {
        summary:
          "Take audit events: EventBridge (API destinations), SNS (HTTPS subscriptions), JSON or JSON lines",
        description:
          "CloudTrail log files, CloudTrail records, EventBridge envelopes and IBM Cloud Activity Tracker events, one JSON value, an array or JSON lines. SNS messages must carry a valid signature. A body with any unreadable record is refused whole.",
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: {} },
            "application/x-ndjson": { schema: { type: "string" } },
            "text/plain": { schema: { type: "string" } },
          },
        },
        responses: {
          "200": json({
            type: "object",
            properties: {
              events: { type: "integer" },
              ignored: { type: "integer" },
              opened: { type: "integer" },
              refreshed: { type: "integer" },
              findings: { type: "array", items: { type: "string" } },
            },
          }),
          "400": error,
          "401": error,
          "403": error,
          "413": error,
        },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus metrics",
        security: [],
        responses: { "200": { description: "text exposition" } },
      },
    },
    "/healthz": {
      get: { summary: "The process is up", security: [], responses: { "200": { description: "up" } } },
    },
    "/readyz": {
      get: {
        summary: "The store is reachable and the scheduler runs",
        security: [],
        responses: { "200": { description: "ready" }, "503": error },
      },
    },
  },
  components: {
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer" },
      basic: { type: "http", scheme: "basic" },
      apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
    },
    responses: {
      Error: {
        description: "What went wrong, in one line",
        ...json({ type: "object", required: ["error"], properties: { error: { type: "string" } } }),
      },
    },
    schemas: {
      Finding: {
        type: "object",
        required: [
          "id",
          "check",
          "account",
          "resource",
          "severity",
          "status",
          "title",
          "details",
          "firstSeen",
          "lastSeen",
        ],
        properties: {
          id: { type: "string" },
          check: { type: "string" },
          account: { type: "string" },
          accountAlias: { type: "string" },
          resource: { type: "string", description: "access key ids are masked" },
          owner: { type: "string" },
          severity: { type: "string", enum: SEVERITIES },
          status: { type: "string", enum: FINDING_STATUSES },
          title: { type: "string" },
          details: { type: "object" },
          firstSeen: { type: "string", format: "date-time" },
          lastSeen: { type: "string", format: "date-time" },
          resolvedAt: { type: "string", format: "date-time" },
          statusReason: { type: "string" },
        },
      },
    },
  },
} as const;
