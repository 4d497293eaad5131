// A finding of an event check depends on which events it saw, not on the order they were read:
// worker threads, files read side by side and distributed jobs hand events on in any order. Its
// occurrences are kept in time order (the latest MAX_EVENTS_KEPT) and its details are those of
// its latest event, merged with the rest; time ties are broken by event id.

/** The latest occurrences a finding keeps. */
export const MAX_EVENTS_KEPT = 50;

type Occurrence = Record<string, unknown>;

/** Sorts by time, then event id: ISO-8601 UTC times compare as strings. */
export function eventKey(e: Occurrence | undefined): string {
  if (!e) return "";
  const time = typeof e.time === "string" ? e.time : "";
  const id = typeof e.eventId === "string" ? e.eventId : "";
  return `${time} ${id}`;
}

/** The key of the latest of `events` ("" for none). */
export function latestKey(events: readonly Occurrence[] | undefined): string {
  let latest = "";
  for (const e of events ?? []) {
    const k = eventKey(e);
    if (k > latest) latest = k;
  }
  return latest;
}

/** The latest MAX_EVENTS_KEPT of both lists, oldest first. */
export function keptEvents(kept: readonly Occurrence[], more: readonly Occurrence[]): Occurrence[] {
  return [...kept, ...more]
    .map((e) => [eventKey(e), e] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(-MAX_EVENTS_KEPT)
    .map(([, e]) => e);
}
