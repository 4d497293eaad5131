/** The service's clock. Jobs, checks and grace periods read it; tests and what-ifs move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock that starts at `start` and advances in real time: `serve --now T` runs the service as
 * if started at T, so that a job scheduled for the minute after T runs a minute later.
 */
export function offsetClock(start: Date, real: () => number = Date.now): Clock {
  const offset = start.getTime() - real();
  return { now: () => new Date(real() + offset) };
}
