import { describe, expect, it } from "vitest";
import { offsetClock } from "../../src/server/clock.js";
import { type JobName, startScheduler, type TriggerReason } from "../../src/server/scheduler.js";

// The scheduler on an injected clock: a job runs at its minute without waiting for the real one,
// a job missed while the service was down runs once at start, and a job never overlaps itself.

const log = { info() {}, warn() {}, error() {} };

type Call = { job: JobName; scheduledFor: string; reason: TriggerReason; at: string };

function recorder(delayMs = 0) {
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  return {
    calls,
    get maxActive() {
      return maxActive;
    },
    trigger: (clock: { now(): Date }) => async (job: JobName, scheduledFor: Date, reason: TriggerReason) => {
      active++;
      maxActive = Math.max(maxActive, active);
      calls.push({ job, scheduledFor: scheduledFor.toISOString(), reason, at: clock.now().toISOString() });
      await new Promise((r) => setTimeout(r, delayMs));
      active--;
    },
  };
}

const until = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
};

describe("scheduler", () => {
  it("runs a job at its minute on the injected clock", async () => {
    const clock = offsetClock(new Date("2026-12-01T11:59:59.300Z"));
    const rec = recorder();
    const s = await startScheduler({
      jobs: [{ name: "scan", cron: "0 12 * * *" }],
      clock,
      lastRun: async () => undefined,
      trigger: rec.trigger(clock),
      log,
    });
    expect(s.next().scan?.toISOString()).toBe("2026-12-01T12:00:00.000Z");
    expect(rec.calls).toEqual([]);
    await until(() => rec.calls.length > 0, 5000);
    await s.stop();
    expect(rec.calls).toHaveLength(1);
    expect(rec.calls[0]).toMatchObject({
      job: "scan",
      scheduledFor: "2026-12-01T12:00:00.000Z",
      reason: "schedule",
    });
    expect(rec.calls[0]!.at >= "2026-12-01T12:00:00.000Z").toBe(true);
    expect(rec.calls[0]!.at < "2026-12-01T12:00:01.000Z").toBe(true);
  });

  it("follows a zone", async () => {
    // 09:30 in Paris is 08:30 UTC in winter.
    const clock = offsetClock(new Date("2026-12-01T08:29:59.500Z"));
    const rec = recorder();
    const s = await startScheduler({
      jobs: [{ name: "remediate", cron: "30 9 * * 1-5", zone: "Europe/Paris" }],
      clock,
      lastRun: async () => undefined,
      trigger: rec.trigger(clock),
      log,
    });
    await until(() => rec.calls.length > 0, 5000);
    await s.stop();
    expect(rec.calls.map((c) => c.scheduledFor)).toEqual(["2026-12-01T08:30:00.000Z"]);
  });

  it("runs a job missed while down once at start, not once per missed occurrence", async () => {
    const clock = offsetClock(new Date("2026-12-01T15:32:00Z"));
    const rec = recorder();
    const s = await startScheduler({
      jobs: [
        { name: "scan", cron: "0 * * * *" },
        { name: "deliver", cron: "*/5 * * * *" },
      ],
      clock,
      // scan last ran at 11:00 (four hourly runs missed); deliver ran at 15:30, on time.
      lastRun: async (job) => new Date(job === "scan" ? "2026-12-01T11:00:02Z" : "2026-12-01T15:30:01Z"),
      trigger: rec.trigger(clock),
      log,
    });
    await until(() => rec.calls.length > 0, 2000);
    await new Promise((r) => setTimeout(r, 200));
    await s.stop();
    expect(rec.calls.map(({ at: _at, ...c }) => c)).toEqual([
      { job: "scan", scheduledFor: "2026-12-01T15:00:00.000Z", reason: "missed" },
    ]);
  });

  it("does not run a job that never ran before at start", async () => {
    const clock = offsetClock(new Date("2026-12-01T15:30:00Z"));
    const rec = recorder();
    const s = await startScheduler({
      jobs: [{ name: "scan", cron: "0 * * * *" }],
      clock,
      lastRun: async () => undefined,
      trigger: rec.trigger(clock),
      log,
    });
    await new Promise((r) => setTimeout(r, 300));
    await s.stop();
    expect(rec.calls).toEqual([]);
  });

  it("never runs two of the same job at once, and stop waits for the one running", async () => {
    const clock = offsetClock(new Date("2026-12-01T12:00:00.500Z"));
    const rec = recorder(1500);
    const skipped: unknown[] = [];
    const s = await startScheduler({
      jobs: [{ name: "deliver", cron: "* * * * * *" }],
      clock,
      lastRun: async () => undefined,
      trigger: rec.trigger(clock),
      log: { ...log, warn: (o: unknown) => skipped.push(o) },
    });
    await until(() => rec.calls.length >= 2, 6000);
    await s.stop();
    expect(rec.maxActive).toBe(1);
    expect(skipped.length).toBeGreaterThan(0);
    // Each call started after the previous one ended (1.5 s each).
    const starts = rec.calls.map((c) => Date.parse(c.at));
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1400);
  });

  it("names a bad expression", async () => {
    await expect(
      startScheduler({
        jobs: [{ name: "scan", cron: "every six hours" }],
        clock: offsetClock(new Date()),
        lastRun: async () => undefined,
        trigger: async () => {},
        log,
      }),
    ).rejects.toThrow(/^serve\.schedule\.scan: /);
  });
});
