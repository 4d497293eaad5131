import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instantQuery, PrometheusError } from "../../src/sources/prometheus.js";
import { type FakeServer, startFake } from "../support/fake-apis/server.js";

// The HTTP API's envelope, answered by a local fake (the real server is in the iam-health test):
// retries on 5xx/429, bearer token, error envelopes, and answers that are not the API at all.

let fake: FakeServer;
const answers: { status: number; body: unknown }[] = [];

beforeAll(async () => {
  fake = await startFake("prometheus", () => answers.shift() ?? { status: 500, body: "no answer left" });
});
afterAll(() => fake.close());

const settings = () => ({ url: `${fake.url}/prometheus/`, token: "t0ken", timeoutMs: 2000, attempts: 3 });

describe("prometheus instant query", () => {
  it("GETs /api/v1/query under the base path with the token, and reads a vector", async () => {
    answers.push(
      { status: 503, body: "overloaded" },
      {
        status: 200,
        body: {
          status: "success",
          data: {
            resultType: "vector",
            result: [
              { metric: { service: "iam-identity" }, value: [1764579600.5, "3"] },
              { metric: { service: "iam-x" }, value: [1764579600.5, "NaN"] },
            ],
          },
        },
      },
    );
    const r = await instantQuery(settings(), "sum by (service) (x)");
    expect(r.samples[0]).toEqual({
      metric: "sum by (service) (x)",
      labels: { service: "iam-identity" },
      value: 3,
      time: new Date(1764579600500),
    });
    expect(Number.isNaN(r.samples[1]!.value)).toBe(true);
    const last = fake.requests.at(-1)!;
    expect(last.method).toBe("GET");
    expect(last.path).toBe("/prometheus/api/v1/query");
    expect(last.query.get("query")).toBe("sum by (service) (x)");
    expect(last.headers.authorization).toBe("Bearer t0ken");
    expect(fake.requests).toHaveLength(2);
  });

  it("an error envelope, a matrix, or a body that is not the API is a PrometheusError", async () => {
    answers.push({ status: 400, body: { status: "error", errorType: "bad_data", error: "parse error" } });
    await expect(instantQuery(settings(), "(")).rejects.toThrow(
      new PrometheusError("prometheus: bad_data: parse error"),
    );
    answers.push({ status: 200, body: { status: "success", data: { resultType: "matrix", result: [] } } });
    await expect(instantQuery(settings(), "x[5m]")).rejects.toThrow(/returns a matrix/);
    answers.push({ status: 200, body: "<html>login</html>" });
    await expect(instantQuery(settings(), "x")).rejects.toThrow(/not a Prometheus API answer: <html>login/);
    answers.push({ status: 500, body: "a" }, { status: 500, body: "b" }, { status: 429, body: "c" });
    await expect(instantQuery(settings(), "x")).rejects.toThrow("prometheus: HTTP 429 c (after 3 tries)");
  });
});
