import type { EventHeader, IamEvent, InputProblem } from "../../model/event.js";

// An event format: how to recognise one of its documents, what its records are, the cheap header
// pre-filters read and the full normalisation. A new format (or a live source's payload) is one
// file under formats/ and one line in registry.ts.

/** Where a record was read: the file (or live origin) and its line or index there. */
export interface Where {
  file: string;
  line?: number | undefined;
  record?: number | undefined;
}

export interface EventFormat {
  name: string;
  /** Whether a parsed JSON value (a document, an array element or a JSON line) is of this format. */
  detect(doc: unknown): boolean;
  /**
   * For formats whose documents hold many records (a CloudTrail log file): the records. Their
   * records are pre-filtered on headers before being normalised. Absent: the value is one record.
   */
  records?(doc: unknown): unknown[];
  /**
   * Byte ranges [start, end, start, end, …] of what may be the records of a document, to read it
   * record by record instead of as one document-sized string (faster). Taken only when every range
   * parses on its own, and then it must give the records of `records(JSON.parse(bytes))`;
   * undefined when the bytes are not of that shape.
   */
  recordPieces?(bytes: Buffer): number[] | undefined;
  /** What pre-filters read; undefined when it cannot be read cheaply (the record is normalised). */
  header(record: unknown): EventHeader | undefined;
  /** Milliseconds of the record's time (NaN when unreadable): skipped records are counted in the window. */
  timeMs(record: unknown): number;
  /** The event; a problem naming where it was read; null for a record that is not an audit event. */
  normalise(record: unknown, where: Where): IamEvent | InputProblem | null;
}

/** A normalised record or the problem it has. */
export const isProblem = (v: IamEvent | InputProblem): v is InputProblem => "error" in v && !("time" in v);

/** A problem at `where`. */
export const problemAt = (where: Where, error: string): InputProblem => ({
  file: where.file,
  ...(where.line !== undefined ? { line: where.line } : {}),
  ...(where.record !== undefined ? { record: where.record } : {}),
  error,
});
