import type { ChannelTally } from "../actions/notify/deliver.js";

const part = (t: ChannelTally): string =>
  `${t.delivered} delivered, ${t.failed} failed, ${t.pending} pending${t.notYetDue ? `, ${t.notYetDue} not yet due` : ""}`;

/**
 * One line per delivery run: per channel when any is configured or named by an item, so a failing
 * channel is never hidden in a total. Empty when there is nothing to say (no channel at all).
 */
export function deliveryLine(report: { channels?: Record<string, ChannelTally> | undefined }): string {
  const channels = Object.entries(report.channels ?? {});
  if (!channels.length) return "";
  return `Notifications: ${channels.map(([name, t]) => `${name} ${part(t)}`).join("; ")}.`;
}
