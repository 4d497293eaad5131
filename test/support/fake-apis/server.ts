import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the fake saw it. */
export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An answer: JSON bodies are serialised, strings sent as they are. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A request that breaks the documented API: answered 400 and listed in `violations`. */
export class Violation extends Error {}

export interface FakeServer {
  url: string;
  requests: Recorded[];
  /** Every way a client broke the documented API; a test expects this to stay empty. */
  violations: string[];
  /** The next requests that match get these answers instead of the normal ones, in order. */
  inject(match: (r: Recorded) => boolean, ...answers: Answer[]): void;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1, port 0, that records and checks every request. */
export async function startFake(
  name: string,
  handle: (r: Recorded) => Answer | Promise<Answer>,
): Promise<FakeServer> {
  const requests: Recorded[] = [];
  const violations: string[] = [];
  const injected: { match: (r: Recorded) => boolean; answers: Answer[] }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const r: Recorded = {
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(r);
      let answer: Answer;
      const inj = injected.find((i) => i.answers.length && i.match(r));
      try {
        answer = inj ? inj.answers.shift()! : await handle(r);
      } catch (e) {
        // Unexpected requests count as violations too: the test fails, the server stays up.
        violations.push(`${name} ${r.method} ${r.path}: ${(e as Error).message}`);
        answer = {
          status: e instanceof Violation ? 400 : 500,
          body: { error: `fake ${name}: ${(e as Error).message}` },
        };
      }
      const body =
        answer.body === undefined
          ? ""
          : typeof answer.body === "string"
            ? answer.body
            : JSON.stringify(answer.body);
      const type = typeof answer.body === "string" ? "text/plain" : "application/json";
      res.writeHead(answer.status, { "content-type": type, ...answer.headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    violations,
    inject(match, ...answers) {
      injected.push({ match, answers });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

export function need(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Violation(message);
}

export function parseJson(r: Recorded): Record<string, unknown> {
  need(/^application\/json/.test(r.headers["content-type"] ?? ""), "Content-Type must be application/json");
  try {
    const v = JSON.parse(r.body) as unknown;
    need(v && typeof v === "object" && !Array.isArray(v), "the body must be a JSON object");
    return v as Record<string, unknown>;
  } catch (e) {
    if (e instanceof Violation) throw e;
    throw new Violation("the body is not JSON");
  }
}
