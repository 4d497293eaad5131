import { type FakeServer, need, parseJson, type Recorded, startFake } from "./server.js";

// A fake Slack Web API (https://api.slack.com/methods) and incoming webhook. Web API methods are
// POSTs to /api/<method>, form-encoded (JSON arguments as strings) or JSON, with the token as a
// bearer token; errors come back as HTTP 200 with ok:false, rate limits as 429 + Retry-After.

export interface SlackPost {
  /** As the client named it (#name or id). */
  channel: string;
  /** The conversation's id. */
  channelId: string;
  ts: string;
  text: string;
  blocks: { type: string; [k: string]: unknown }[];
  /** Message metadata (https://api.slack.com/metadata/using): event_type and event_payload. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
}

export interface FakeSlack extends FakeServer {
  apiUrl: string;
  webhookUrl: string;
  posts: SlackPost[];
  webhookPosts: { text: string; blocks: unknown[] }[];
  /** The next n chat.postMessage calls post, then answer 503 as if the response were lost. */
  loseResponses(n: number): void;
  /** conversations.history answers this error (e.g. missing_scope) instead of messages. */
  historyError?: string | undefined;
}

export async function startFakeSlack(opts: {
  token: string;
  /** Channels the bot may post to, by name (#x) or id. */
  channels: string[];
  /** email → user id for users.lookupByEmail. */
  users?: Record<string, string>;
}): Promise<FakeSlack> {
  const posts: SlackPost[] = [];
  const webhookPosts: { text: string; blocks: unknown[] }[] = [];
  const users = opts.users ?? {};
  const dms = new Map<string, string>();
  let lose = 0;
  // Every channel has an id and a name; the client may post by either, history wants the id.
  const idOf = (c: string) => `C${Buffer.from(c).toString("hex").toUpperCase().slice(0, 10)}`;
  const known = opts.channels.map((c) =>
    /^[CG][A-Z0-9]+$/.test(c) ? { id: c, name: c.toLowerCase() } : { id: idOf(c), name: c.replace(/^#/, "") },
  );
  const resolveChannel = (c: string): string | undefined => {
    if ([...dms.values()].includes(c)) return c;
    return known.find((k) => k.id === c || k.name === c.replace(/^#/, ""))?.id;
  };

  const args = (r: Recorded): Record<string, string> => {
    const type = r.headers["content-type"] ?? "";
    if (type.startsWith("application/x-www-form-urlencoded"))
      return Object.fromEntries(new URLSearchParams(r.body));
    if (type.startsWith("application/json")) {
      const j = parseJson(r);
      return Object.fromEntries(
        Object.entries(j).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
      );
    }
    throw new Error("unreachable");
  };

  const fake: FakeServer & { historyError?: string | undefined } = await startFake("slack", (r) => {
    if (r.path === "/webhook/T000/B000/secret") {
      need(r.method === "POST", "incoming webhooks take POST");
      const j = parseJson(r);
      need(typeof j.text === "string" || Array.isArray(j.blocks), "a webhook message needs text or blocks");
      webhookPosts.push({ text: String(j.text ?? ""), blocks: (j.blocks as unknown[]) ?? [] });
      return { status: 200, body: "ok" };
    }
    need(r.path.startsWith("/api/"), "Web API methods live under /api/");
    need(r.method === "POST", "the client must POST to Web API methods");
    const type = r.headers["content-type"] ?? "";
    need(
      type.startsWith("application/x-www-form-urlencoded") || type.startsWith("application/json"),
      `unsupported Content-Type ${type}`,
    );
    const a = args(r);
    const auth = r.headers.authorization;
    if (!auth && !a.token) return { status: 200, body: { ok: false, error: "not_authed" } };
    if (auth !== `Bearer ${opts.token}` && a.token !== opts.token)
      return { status: 200, body: { ok: false, error: "invalid_auth" } };
    const method = r.path.slice("/api/".length);
    switch (method) {
      case "chat.postMessage": {
        need(a.channel, "chat.postMessage needs channel");
        if (!a.text && !a.blocks) return { status: 200, body: { ok: false, error: "no_text" } };
        let blocks: SlackPost["blocks"] = [];
        if (a.blocks) {
          try {
            blocks = JSON.parse(a.blocks);
          } catch {
            return { status: 200, body: { ok: false, error: "invalid_blocks" } };
          }
          need(Array.isArray(blocks) && blocks.length <= 50, "blocks must be an array of at most 50");
          for (const b of blocks) {
            need(typeof b.type === "string", "every block has a type");
            if (b.type === "header") {
              const t = b.text as { type?: string; text?: string };
              need(
                t?.type === "plain_text" && t.text && t.text.length <= 150,
                "a header is plain_text of 1-150 chars",
              );
            }
            if (b.type === "section") {
              const fields = b.fields as unknown[] | undefined;
              need(b.text || fields?.length, "a section needs text or fields");
              need(!fields || fields.length <= 10, "a section has at most 10 fields");
            }
          }
        }
        let metadata: SlackPost["metadata"];
        if (a.metadata) {
          const m = JSON.parse(a.metadata) as SlackPost["metadata"];
          need(
            typeof m?.event_type === "string" && /^[a-z0-9_]+$/.test(m.event_type),
            "metadata.event_type is a lowercase word",
          );
          need(
            m?.event_payload && typeof m.event_payload === "object",
            "metadata.event_payload is an object",
          );
          metadata = m;
        }
        const channelId = resolveChannel(a.channel);
        if (!channelId) return { status: 200, body: { ok: false, error: "channel_not_found" } };
        const ts = `${1_700_000_000 + posts.length}.000100`;
        posts.push({ channel: a.channel, channelId, ts, text: a.text ?? "", blocks, metadata });
        if (lose > 0) {
          lose--;
          return { status: 503, body: "upstream timed out" };
        }
        return { status: 200, body: { ok: true, channel: channelId, ts } };
      }
      case "conversations.history": {
        need(a.channel, "conversations.history needs channel");
        need(/^[CGD][A-Z0-9]+$/.test(a.channel), "conversations.history takes a conversation id, not a name");
        if (fake.historyError) return { status: 200, body: { ok: false, error: fake.historyError } };
        if (!resolveChannel(a.channel))
          return { status: 200, body: { ok: false, error: "channel_not_found" } };
        const limit = Math.min(Number(a.limit ?? 100), 999);
        const withMeta = a.include_all_metadata === "true";
        const messages = posts
          .filter((p) => p.channelId === a.channel)
          .reverse()
          .slice(0, limit)
          .map((p) => ({
            type: "message",
            ts: p.ts,
            text: p.text,
            ...(withMeta && p.metadata ? { metadata: p.metadata } : {}),
          }));
        return { status: 200, body: { ok: true, messages, has_more: false } };
      }
      case "conversations.list": {
        const limit = Math.min(Number(a.limit ?? 100), 1000);
        const from = Number(a.cursor || 0);
        const page = known.slice(from, from + limit);
        const next = from + limit < known.length ? String(from + limit) : "";
        return {
          status: 200,
          body: {
            ok: true,
            channels: page.map((k) => ({ id: k.id, name: k.name, is_channel: true })),
            response_metadata: { next_cursor: next },
          },
        };
      }
      case "users.lookupByEmail": {
        need(a.email, "users.lookupByEmail needs email");
        const id = users[a.email];
        if (!id) return { status: 200, body: { ok: false, error: "users_not_found" } };
        return { status: 200, body: { ok: true, user: { id, profile: { email: a.email } } } };
      }
      case "conversations.open": {
        need(a.users || a.channel, "conversations.open needs users or channel");
        const user = a.users ?? "";
        need(/^[UW][A-Z0-9]+$/.test(user), "users is a user id");
        const dm = dms.get(user) ?? `D${user.slice(1)}`;
        dms.set(user, dm);
        return { status: 200, body: { ok: true, channel: { id: dm } } };
      }
      default:
        return { status: 200, body: { ok: false, error: "unknown_method" } };
    }
  });
  return Object.assign(fake, {
    apiUrl: `${fake.url}/api/`,
    webhookUrl: `${fake.url}/webhook/T000/B000/secret`,
    posts,
    webhookPosts,
    loseResponses: (n: number) => {
      lose = n;
    },
  });
}
