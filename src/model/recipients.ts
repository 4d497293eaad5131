// Who hears about a finding: plain data that owners resolve and channels deliver to.

/** How to reach one person. */
export interface Contact {
  slack?: string | undefined;
  email?: string | undefined;
  jiraAccountId?: string | undefined;
}

/** Who hears about one finding. */
export interface Recipients {
  /** The IAM user behind the finding, when known, with whatever contact the mapping or tags give. */
  user?: (Contact & { name: string }) | undefined;
  /** Slack channels: the account's owners, else the global owners, else notify.slack.channel. */
  slack: string[];
  email: string[];
  jiraProject?: string | undefined;
  /** Candidates in order (account ids, user names or emails); the first that resolves is used. */
  jiraAssignees: string[];
  jiraParent?: string | undefined;
}
