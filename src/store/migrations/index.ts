import { initial } from "./001-initial.js";

export interface Migration {
  id: number;
  name: string;
  sqlite: string;
  postgres: string;
}

/** In order. A new schema change is a new file and one more line here; never edit a shipped one. */
export const migrations: Migration[] = [initial];
