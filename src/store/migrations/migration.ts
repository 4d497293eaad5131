/** A numbered schema change, in each database's dialect. Never edit a shipped one. */
export interface Migration {
  id: number;
  name: string;
  sqlite: string;
  postgres: string;
}
