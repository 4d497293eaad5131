// Events as EventBridge delivers them, for the intake tests and benchmarks.

/** An EventBridge envelope of one CloudTrail IAM call by a non-admin user. */
export function envelope(user: string, eventId: string, action = "CreateAccessKey") {
  return {
    version: "0",
    id: `eb-${eventId}`,
    "detail-type": "AWS API Call via CloudTrail",
    source: "aws.iam",
    account: "123456789012",
    time: "2026-12-01T10:00:00Z",
    region: "us-east-1",
    detail: {
      eventVersion: "1.09",
      userIdentity: {
        type: "IAMUser",
        principalId: `AIDA${user.toUpperCase()}`,
        arn: `arn:aws:iam::123456789012:user/${user}`,
        accountId: "123456789012",
        userName: user,
      },
      eventTime: "2026-12-01T10:00:00Z",
      eventSource: "iam.amazonaws.com",
      eventName: action,
      awsRegion: "us-east-1",
      sourceIPAddress: "203.0.113.7",
      userAgent: "aws-cli/2",
      requestParameters: { userName: user },
      eventID: eventId,
      eventType: "AwsApiCall",
      recipientAccountId: "123456789012",
    },
  };
}
