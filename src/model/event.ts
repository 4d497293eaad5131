// One audit event, whatever cloud recorded it. Sources yield these; event checks judge them.

export type EventProvider = "aws" | "ibm";

/**
 * What kind of occurrence: an API call, an interactive console sign-in, or an IBM Cloud IAM
 * login (API key, refresh token). Checks branch on this rather than on provider-specific names.
 */
export type EventKind = "api-call" | "console-login" | "login";

export interface EventPrincipal {
  /**
   * AWS: userIdentity.type (Root, IAMUser, AssumedRole, FederatedUser, AWSService, AWSAccount…).
   * IBM: user, serviceid, certificate or clientid (from initiator.typeURI).
   */
  type: string;
  /** IAM user name, role session issuer name, IBMid e-mail, service id name… */
  name?: string | undefined;
  arn?: string | undefined;
  /** AWS principalId / IBM initiator.id. */
  id?: string | undefined;
  /** The access key that signed the call: AKIA… (long-term) or ASIA… (temporary). */
  accessKeyId?: string | undefined;
  /** Whether the session was MFA-authenticated (console logins: MFAUsed). */
  mfa?: boolean | undefined;
  /** AssumedRole: the role the session came from. */
  sessionIssuer?: string | undefined;
  /** The AWS service that made the call on the principal's behalf. */
  invokedBy?: string | undefined;
  /** IBM: initiator.credential.type (apikey, token, user, certificate). */
  credential?: string | undefined;
}

/** The IAM entity a call acted upon, from its request parameters. */
export interface EventTarget {
  user?: string | undefined;
  group?: string | undefined;
  role?: string | undefined;
  policyName?: string | undefined;
  policyArn?: string | undefined;
  /** IBM: target.id (a CRN) and name. */
  id?: string | undefined;
  name?: string | undefined;
}

export interface IamEvent {
  time: Date;
  account: string;
  provider: EventProvider;
  kind: EventKind;
  /** Service-qualified action: `iam:CreateUser`, `signin:ConsoleLogin`, `iam-identity.user-apikey.login`. */
  action: string;
  principal: EventPrincipal;
  /**
   * Where the call came from as recorded: an IPv4/IPv6 address, or a service name such as
   * `iam.amazonaws.com` or `AWS Internal` when AWS made the call itself.
   */
  sourceIp: string;
  userAgent?: string | undefined;
  outcome: "success" | "failure";
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  region?: string | undefined;
  eventId: string;
  target: EventTarget;
  /** The record as the source delivered it. */
  raw: unknown;
}

/** A bad input that was skipped; processing goes on with the rest. */
export interface InputProblem {
  file: string;
  /** 1-based line in the file, when known (JSON lines, JSON syntax errors). */
  line?: number | undefined;
  /** 0-based index of the record in the file's Records array or JSON array, when known. */
  record?: number | undefined;
  error: string;
}

/** One line per problem: `file:line: error` or `file (record 12): error`. */
export function describeProblem(p: InputProblem): string {
  const where = p.line
    ? `${p.file}:${p.line}`
    : p.record !== undefined
      ? `${p.file} (record ${p.record})`
      : p.file;
  return `${where}: ${p.error}`;
}

/**
 * The few fields event-check pre-filters read. Every event format produces one per record cheaply
 * (before building a whole IamEvent), so most of a trail is skipped without being normalised.
 * Same meanings as the IamEvent fields of the same names.
 */
export interface EventHeader {
  provider: EventProvider;
  kind: EventKind;
  action: string;
  principalType?: string | undefined;
  sourceIp?: string | undefined;
  invokedBy?: string | undefined;
  /** The signing key (source-ip judges long-term AKIA keys only). */
  accessKeyId?: string | undefined;
  /** The account, when the record names it (allowlists are per account). */
  account?: string | undefined;
}

/** A pre-filter: false means no enabled check could flag this record. */
export type HeaderFilter = (h: EventHeader) => boolean;
