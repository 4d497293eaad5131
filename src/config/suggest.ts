import { distance } from "fastest-levenshtein";
import type { z } from "zod";

// "Did you mean" for unknown config keys: the keys the schema knows at that place, nearest first.

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
  element?: z.ZodType;
};

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas a value at this schema may be (unwrapping defaults, optionals, unions, pipes). */
function objects(s: z.ZodType | undefined, seen = new Set<z.ZodType>()): Def[] {
  if (!s || seen.has(s)) return [];
  seen.add(s);
  const d = defOf(s);
  switch (d.type) {
    case "object":
      return [d];
    case "default":
    case "optional":
    case "nullable":
    case "prefault":
    case "readonly":
      return objects(d.innerType, seen);
    case "pipe":
      return [...objects(d.in, seen), ...objects(d.out, seen)];
    case "union":
      return (d.options ?? []).flatMap((o) => objects(o, seen));
    default:
      return [];
  }
}

/** Follows a path of keys and indexes through objects, records and arrays. */
function at(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  let here: z.ZodType[] = [schema];
  for (const p of path) {
    const next: z.ZodType[] = [];
    for (const s of here) {
      for (const o of objects(s)) {
        const child = o.shape?.[String(p)];
        if (child) next.push(child);
      }
      const d = unwrap(s);
      if (d.type === "record" && d.valueType) next.push(d.valueType);
      if (d.type === "array" && d.element && typeof p === "number") next.push(d.element);
    }
    here = next;
  }
  return here;
}

function unwrap(s: z.ZodType): Def {
  let d = defOf(s);
  while ((d.type === "default" || d.type === "optional" || d.type === "prefault") && d.innerType)
    d = defOf(d.innerType);
  return d;
}

/** The known key nearest to `unknown` at `path`, when one is near enough to be a likely typo. */
export function suggestKey(
  schema: z.ZodType,
  path: readonly PropertyKey[],
  unknown: string,
): string | undefined {
  const known = [
    ...new Set(at(schema, path).flatMap((s) => objects(s).flatMap((o) => Object.keys(o.shape ?? {})))),
  ];
  const lower = unknown.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const key of known) {
    const k = key.toLowerCase();
    // A key the unknown one begins (webhook → webhookUrl) is as good as a one-letter typo.
    const d = k.startsWith(lower) || lower.startsWith(k) ? 1 : distance(lower, k);
    if (!best || d < best.d) best = { key, d };
  }
  if (!best) return undefined;
  return best.d <= Math.max(2, Math.floor(unknown.length / 3)) ? best.key : undefined;
}
