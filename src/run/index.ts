// The application layer: one function per kind of run, each taking a run context and returning
// a typed report. The CLI and the service call these; nothing here reads process state
export {
  createRunContext,
  lazyAwsClients,
  newRunId,
  nextRun,
  type RunContext,
  type RunContextOptions,
  type RunLog,
  silentLog,
} from "./context.js";
export {
  type DeliveryOptions,
  type DeliveryReport,
  deliverAfterRun,
  dueItems,
  runDelivery,
} from "./delivery.js";
export { type DoctorReport, runDoctor } from "./doctor.js";
export {
  localInputBytes,
  lookupSource,
  parseTime,
  type ReplayOptions,
  type ReplayStats,
  replaySource,
  type TimeWindow,
} from "./event-sources.js";
export {
  configuredAllowlists,
  type EventSource,
  type EventSourceIo,
  type EventsOptions,
  type EventsReport,
  runEvents,
} from "./events.js";
export { resolveFinding } from "./findings.js";
export { queueUrl, runEnqueue, startScanWorkers, type WorkerOptions } from "./fleet.js";
export { type QuarantineOptions, type QuarantineReport, runQuarantine } from "./quarantine.js";
export { type RemediationOptions, type RemediationReport, runRemediation } from "./remediation.js";
export { type RollbackTarget, runRollback } from "./rollback.js";
export {
  readCredentialReport,
  runScan,
  type ScanAccountReport,
  type ScanInput,
  type ScanOptions,
  type ScanReport,
} from "./scan.js";
export { isPostgresUrl, openRunStore, openWhatIfStore, type RunStoreOptions } from "./store.js";
