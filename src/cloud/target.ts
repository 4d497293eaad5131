/** An account to read or change, after config resolution (role to assume, discovered alias…). */
export interface AccountTarget {
  id: string;
  alias?: string | undefined;
  roleArn?: string | undefined;
  externalId?: string | undefined;
  region?: string | undefined;
}
