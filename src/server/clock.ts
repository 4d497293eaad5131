/** The service's clock. Jobs, checks and grace periods read it; tests and what-ifs move it. */
export interface Clock {
  now(): Date;
  /** Called once the service is up and its scheduler about to start. */
  start?(): void;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock that reads `at` when the service starts its scheduler and advances in real time from
 * there: `serve --now T` runs the service as if started at T, so that a job scheduled for the
 * minute after T runs a minute after start, however long start-up took (until then it runs from T
 * as of its creation).
 */
export function offsetClock(at: Date, real: () => number = Date.now): Clock {
  let offset = at.getTime() - real();
  return {
    now: () => new Date(real() + offset),
    start() {
      offset = at.getTime() - real();
    },
  };
}
