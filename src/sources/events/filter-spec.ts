import type { HeaderFilter } from "../../model/event.js";

/**
 * How to build a pre-filter where functions cannot be sent (a worker thread): a module URL and
 * the name of an export called with `args` (plain data: config, allowlists), returning a
 * HeaderFilter.
 */
export interface FilterSpec {
  module: string;
  name: string;
  args: unknown[];
}

export async function buildFilter(spec: FilterSpec | undefined): Promise<HeaderFilter | undefined> {
  if (!spec) return undefined;
  const mod = (await import(spec.module)) as Record<string, (...a: unknown[]) => HeaderFilter>;
  const make = mod[spec.name];
  if (typeof make !== "function") throw new Error(`${spec.module} has no ${spec.name}`);
  return make(...spec.args);
}

/** A module next to `base` (an import.meta.url), as run: `.ts` from source, `.js` when built. */
export function siblingModule(base: string, relative: string): string {
  const ext = base.endsWith(".ts") ? ".ts" : ".js";
  return new URL(relative.replace(/\.js$/, ext), base).href;
}
