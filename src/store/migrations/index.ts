import { initial } from "./001-initial.js";
import { outboxByFinding } from "./002-outbox-by-finding.js";
import { knownKeys } from "./003-known-keys.js";
import { processedObjects } from "./004-processed-objects.js";
import type { Migration } from "./migration.js";

export type { Migration };

/** In order. A new schema change is a new file and one more line here. */
export const migrations: Migration[] = [initial, outboxByFinding, knownKeys, processedObjects];
