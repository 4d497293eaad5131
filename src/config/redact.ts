import { CHANNEL_NAMES, channelRegistry } from "../actions/notify/registry.js";

// What `config validate --print` shows: the config with every secret replaced by ***, including
// secrets that hide inside URLs (a Slack webhook's path, user:password@, tokens in a query).

const MASK = "***";
/** Keys whose values are secrets wherever they appear. */
const SECRET_KEY = /token|secret|password|passwd|routingKey|apiKey|credential/i;

/** A URL with its user info and query values masked; `wholePath`: the path is a secret too. */
export function redactUrl(value: string, wholePath = false): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return value;
  }
  if (!/^[a-z][a-z0-9+.-]*:$/i.test(u.protocol) || !u.host) return value;
  if (u.username) u.username = MASK;
  if (u.password) u.password = MASK;
  for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, MASK);
  if (wholePath && u.pathname !== "/") u.pathname = `/${MASK}`;
  // URL encodes the mask in the query; show it as written.
  return u.toString().replace(/%2A%2A%2A/g, MASK);
}

const maskAll = (v: unknown): unknown =>
  v && typeof v === "object"
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskAll(x)]))
    : v === undefined || v === ""
      ? v
      : MASK;

function walk(value: unknown, key: string, secretKeys: ReadonlySet<string>): unknown {
  if (secretKeys.has(key) || SECRET_KEY.test(key)) {
    // A secret URL keeps its scheme and host, so the reader still sees where it points.
    return typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
      ? redactUrl(value, true)
      : maskAll(value);
  }
  if (typeof value === "string") return redactUrl(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, "", new Set()));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k, new Set())]));
  return value;
}

/** A copy of the config that can be printed: secrets from the channel registry and by name, masked. */
export function redactConfig<T extends { notify?: Record<string, unknown> }>(config: T): unknown {
  const out = walk({ ...config, notify: undefined }, "", new Set()) as Record<string, unknown>;
  const notify: Record<string, unknown> = {};
  for (const [name, section] of Object.entries(config.notify ?? {})) {
    const def = (CHANNEL_NAMES as string[]).includes(name)
      ? channelRegistry[name as keyof typeof channelRegistry]
      : undefined;
    const secrets = new Set<string>(def?.secrets ?? []);
    notify[name] =
      section && typeof section === "object"
        ? Object.fromEntries(Object.entries(section).map(([k, v]) => [k, walk(v, k, secrets)]))
        : walk(section, name, new Set());
  }
  return { ...out, notify };
}
