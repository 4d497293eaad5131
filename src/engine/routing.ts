import { activeChannels } from "../actions/notify/registry.js";
import type { Config } from "../config/schema.js";
import type { Finding } from "../model/finding.js";
import type { NotifyEvent } from "../model/outbox.js";

/**
 * Which channels hear about which events. Pure; read from the channel registry. `renotifyHours`
 * gives a channel's reminder window (undefined: the planner's default).
 */
export type Router = ((finding: Finding, event: NotifyEvent) => string[]) & {
  renotifyHours?: (channel: string) => number | undefined;
};

/** Builds the router from config: a channel is routed only when configured, enabled and usable. */
export function routerFromConfig(notify: Config["notify"]): Router {
  const routes = activeChannels(notify);
  const route: Router = (finding, event) =>
    routes
      .filter((r) => r.def.events.includes(event) && (r.def.accepts?.(r.settings, finding) ?? true))
      .map((r) => r.def.name);
  const hours = new Map(routes.map((r) => [r.def.name, r.def.renotifyHours?.(r.settings)]));
  route.renotifyHours = (channel) => hours.get(channel);
  return route;
}

export const noRoutes: Router = () => [];
