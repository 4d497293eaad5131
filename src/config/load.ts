import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { UserError } from "../errors.js";
import { type Config, configSchema } from "./schema.js";
import { suggestKey } from "./suggest.js";

/** Where the config came from: --config, ./iamwarden.yaml, IAMWARDEN_CONFIG, or none. */
export type ConfigSource = "flag" | "cwd" | "env" | "defaults";

export interface LoadedConfig {
  config: Config;
  /** The file it came from, if any; relative paths inside it resolve against its folder. */
  path?: string | undefined;
  baseDir: string;
  source: ConfigSource;
  /**
   * Sections left out because a `${VAR}` in them is unset, each with its one-line problem. Only a
   * command that uses such a section fails (see requireSections): `findings list` does not need
   * the Slack token.
   */
  deferred: DeferredSection[];
}

export interface DeferredSection {
  /** Dotted path of the section left out, e.g. `notify.slack`. */
  section: string;
  problem: string;
}

/** The file names looked for in the working directory, in order. */
export const CONFIG_NAMES = ["iamwarden.yaml", "iamwarden.yml", "iamwarden.json"];

/**
 * Which config file a command reads: --config, else ./iamwarden.yaml (or .yml/.json) when present,
 * else IAMWARDEN_CONFIG, else none (defaults).
 */
export function findConfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): { path?: string; source: ConfigSource } {
  if (explicit) return { path: explicit, source: "flag" };
  for (const name of CONFIG_NAMES) {
    const p = resolve(cwd, name);
    if (existsSync(p)) return { path: p, source: "cwd" };
  }
  if (env.IAMWARDEN_CONFIG) return { path: env.IAMWARDEN_CONFIG, source: "env" };
  return { source: "defaults" };
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * A section (the first two levels: `notify.slack`, `store`) holding an unset variable is left out
 * and reported instead; every other `${NAME}` / `${NAME:-default}` is replaced.
 */
function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: (string | number)[],
  unset: { path: (string | number)[]; name: string }[],
): unknown {
  if (typeof value === "string") {
    return value.replace(ENV_REF, (m, name: string, def?: string) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (def !== undefined) return def;
      unset.push({ path, name });
      return m;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, [...path, i], unset));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, [...path, k], unset)]),
    );
  }
  return value;
}

function dotted(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
    .join("")
    .replace(/^\./, "");
}

type Doc = ReturnType<typeof parseDocument>;

/** The line of the YAML node at `path` (or of the key `key` inside it), as near as the path goes. */
function lineOf(doc: Doc, lines: LineCounter, path: readonly PropertyKey[], key?: string): number {
  let node: unknown = doc.contents;
  for (const p of path) {
    if (isMap(node)) node = node.get(p as string, true) ?? node;
    else if (isSeq(node) && typeof p === "number") node = node.get(p, true) ?? node;
    else break;
  }
  if (key && isMap(node)) {
    const pair = node.items.find((i) => isScalar(i.key) && i.key.value === key);
    const r = (pair?.key as { range?: [number, number] } | undefined)?.range;
    if (r) return lines.linePos(r[0]).line;
  }
  const range = (node as { range?: [number, number] } | null)?.range;
  return range ? lines.linePos(range[0]).line : 1;
}

function describeIssue(issue: z.core.$ZodIssue, file: string, doc: Doc, lines: LineCounter): string[] {
  const path = dotted(issue.path);
  const at = path ? `${path}: ` : "";
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => {
      const hint = suggestKey(configSchema, issue.path, k);
      return `${file}:${lineOf(doc, lines, issue.path, k)}: ${at}unknown key "${k}"${hint ? ` (did you mean "${hint}"?)` : ""}`;
    });
  }
  if (issue.code === "invalid_union" && issue.errors.length) {
    // Report the branch the value was meant for: the one that failed past its type check.
    const branch = issue.errors.find(
      (b) => b.length && !b.every((i) => i.code === "invalid_type" && !i.path.length),
    );
    if (branch)
      return branch.flatMap((i) =>
        describeIssue({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue, file, doc, lines),
      );
  }
  return [`${file}:${lineOf(doc, lines, issue.path)}: ${at}${issue.message}`];
}

const lineNo = (s: string) => Number(/:(\d+): /.exec(s)?.[1] ?? 0);

/**
 * Parses and validates config text. Every problem is reported, one line each naming the file, the
 * line and the field; an unknown key comes with the nearest known one.
 */
export function parseConfigText(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): { config: Config; deferred: DeferredSection[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new UserError(
      doc.errors
        .map((e) => `${file}:${lines.linePos(e.pos[0]).line}: ${e.message.split("\n")[0]}`)
        .join("\n"),
    );
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw new UserError(`${file}:1: the config must be a mapping`);
  const unset: { path: (string | number)[]; name: string }[] = [];
  const expanded = expandEnv(raw, env, [], unset) as Record<string, unknown>;
  const deferred: DeferredSection[] = [];
  for (const u of unset) {
    const section = u.path.slice(0, 2).map(String);
    const name = section.join(".");
    if (!deferred.some((d) => d.section === name)) {
      deferred.push({
        section: name,
        problem: `${file}:${lineOf(doc, lines, u.path)}: ${dotted(u.path)}: environment variable ${u.name} is not set`,
      });
    }
    // Leave the section out so the rest validates; commands that need it fail in requireSections.
    const [top, sub] = section;
    const parent = expanded[top!] as Record<string, unknown> | undefined;
    if (sub !== undefined && parent && typeof parent === "object") delete parent[sub];
    else delete expanded[top!];
  }
  const parsed = configSchema.safeParse(expanded);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((i) => describeIssue(i, file, doc, lines));
    throw new UserError([...new Set(problems)].sort((a, b) => lineNo(a) - lineNo(b)).join("\n"));
  }
  return { config: parsed.data, deferred };
}

/** Parses and validates config text; throws on a section with an unset variable too. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const { config, deferred } = parseConfigText(text, file, env);
  if (deferred.length) throw new UserError(deferred.map((d) => d.problem).join("\n"));
  return config;
}

export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const found = findConfig(explicit, env);
  if (!found.path)
    return { config: configSchema.parse({}), baseDir: process.cwd(), source: "defaults", deferred: [] };
  let text: string;
  try {
    text = readFileSync(found.path, "utf8");
  } catch (e) {
    throw new UserError(
      `${found.path}: cannot read config (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
  const { config, deferred } = parseConfigText(text, found.path, env);
  return { config, path: found.path, baseDir: dirname(resolve(found.path)), source: found.source, deferred };
}

/**
 * Fails when a section this command uses was left out for an unset variable, e.g.
 * `requireSections(loaded, ["notify"])` before sending notifications.
 */
export function requireSections(loaded: LoadedConfig, prefixes: string[]): void {
  // The prefix "" names every section.
  const missing = loaded.deferred.filter((d) =>
    prefixes.some((p) => p === "" || d.section === p || d.section.startsWith(`${p}.`)),
  );
  if (missing.length) throw new UserError(missing.map((d) => d.problem).join("\n"));
}

/** Resolves a path written in the config relative to the config's folder. */
export function configPath(loaded: LoadedConfig, p: string): string {
  return resolve(loaded.baseDir, p);
}
