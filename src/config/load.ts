import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { UserError } from "../errors.js";
import { type Config, configSchema } from "./schema.js";

export interface LoadedConfig {
  config: Config;
  /** The file it came from, if any; relative paths inside it resolve against its folder. */
  path?: string | undefined;
  baseDir: string;
}

/** Replaces ${NAME} and ${NAME:-default} in every string; an unset variable without default is an error. */
function expandEnv(text: string, env: NodeJS.ProcessEnv, where: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def?: string) => {
    const v = env[name];
    if (v !== undefined && v !== "") return v;
    if (def !== undefined) return def;
    throw new UserError(`${where}: environment variable ${name} is not set`);
  });
}

function expandDeep(value: unknown, env: NodeJS.ProcessEnv, where: string): unknown {
  if (typeof value === "string") return expandEnv(value, env, where);
  if (Array.isArray(value)) return value.map((v) => expandDeep(v, env, where));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandDeep(v, env, where)]));
  }
  return value;
}

function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
    .join("")
    .replace(/^\./, "");
}

/** Parses and validates config text; errors name the file, the line and the field. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const at = lines.linePos(first.pos[0]);
    throw new UserError(`${file}:${at.line}: ${first.message.split("\n")[0]}`);
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw new UserError(`${file}:1: the config must be a mapping`);
  const expanded = expandDeep(raw, env, file);
  const parsed = configSchema.safeParse(expanded);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  // Walk the YAML tree as far as the path goes, to point at the nearest line.
  let node: unknown = doc.contents;
  for (const key of issue.path) {
    if (isMap(node)) node = node.get(key as string, true) ?? node;
    else if (isSeq(node) && typeof key === "number") node = node.get(key, true) ?? node;
    else break;
  }
  const range = (node as { range?: [number, number] } | null)?.range;
  const line = range ? lines.linePos(range[0]).line : 1;
  const path = issuePath(issue);
  throw new UserError(`${file}:${line}: ${path ? `${path}: ` : ""}${issue.message}`);
}

export function loadConfig(path?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  if (!path) return { config: configSchema.parse({}), baseDir: process.cwd() };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(`${path}: cannot read config (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const config = parseConfig(text, path, env);
  const baseDir = dirname(resolve(path));
  return { config, path, baseDir };
}

/** Resolves a path written in the config relative to the config's folder. */
export function configPath(loaded: LoadedConfig, p: string): string {
  return resolve(loaded.baseDir, p);
}
