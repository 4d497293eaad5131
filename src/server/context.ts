import type { Logger } from "pino";
import type { LoadedConfig } from "../config/load.js";
import type { IamEvent } from "../model/event.js";
import type { Store } from "../store/store.js";
import type { Clock } from "./clock.js";
import type { EventsOutcome, ServeDeps } from "./deps.js";
import type { SnsVerifier } from "./intake/sns.js";
import type { Intake, ServiceMetrics } from "./metrics.js";

/** What the HTTP routes and intakes share for the life of the service. */
export interface ServerContext {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  deps: ServeDeps;
  metrics: ServiceMetrics;
  log: Logger;
  actor: string;
  showKeyIds: boolean;
  /** Undefined when ready; otherwise why not. */
  ready(): Promise<string | undefined>;
  /** Judges and stores events taken from an intake; resolves once they are stored. */
  ingest(intake: Intake, events: IamEvent[]): Promise<EventsOutcome>;
  sns: SnsVerifier;
  /** GETs an SNS SubscribeURL (the confirmation). */
  confirmSubscription(url: string): Promise<void>;
}
