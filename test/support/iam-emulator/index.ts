// The local IAM/STS/Organizations emulator: start it, seed it, point `aws.endpoint` at its url.
export * from "./operation.js";
export {
  type EmuPolicyVersion,
  policyVersionOps,
  policyVersions,
  roleAttached,
} from "./policy-version-ops.js";
export { readOps } from "./read-ops.js";
export { credentialReportCsv, REPORT_COLUMNS } from "./report.js";
export { prng, type SeedOptions, type SeedSummary, seedUsers } from "./seed.js";
export {
  type CallCounter,
  type CallInfo,
  type EmulatorOptions,
  type IamEmulator,
  startIamEmulator,
} from "./server.js";
export * from "./state.js";
