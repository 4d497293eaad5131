import { type FakeServer, need, startFake } from "./server.js";

// A fake Amazon SNS speaking the AWS Query protocol: POST / with a form body (Action=Publish,
// Version=2010-03-31, TopicArn, Message, optional Subject and MessageAttributes.entry.N.*), signed
// with SigV4 for service "sns". Answers PublishResponse XML, or an ErrorResponse.

export interface SnsPublish {
  topicArn: string;
  message: string;
  subject?: string | undefined;
  attributes: Record<string, string>;
  groupId?: string | undefined;
  dedupId?: string | undefined;
}

export interface FakeSns extends FakeServer {
  published: SnsPublish[];
}

const errorXml = (type: string, code: string, message: string) =>
  `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`;

export async function startFakeSns(opts: { topics: string[] }): Promise<FakeSns> {
  const published: SnsPublish[] = [];
  const fake = await startFake("sns", (r) => {
    need(r.method === "POST" && r.path === "/", "the query protocol POSTs to /");
    need(
      (r.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded"),
      "the query protocol sends a form body",
    );
    const auth = r.headers.authorization ?? "";
    need(
      /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/sns\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.test(
        auth,
      ),
      "requests are signed with SigV4 for sns",
    );
    need(r.headers["x-amz-date"], "X-Amz-Date is set");
    const f = new URLSearchParams(r.body);
    need(f.get("Action") === "Publish", `unexpected Action ${f.get("Action")}`);
    need(f.get("Version") === "2010-03-31", "Version=2010-03-31");
    const topicArn = f.get("TopicArn") ?? "";
    const message = f.get("Message") ?? "";
    if (!message) return { status: 400, body: errorXml("Sender", "InvalidParameter", "Empty message") };
    const subject = f.get("Subject") ?? undefined;
    if (subject !== undefined && (subject.length > 100 || /[\r\n]/.test(subject)))
      return {
        status: 400,
        body: errorXml("Sender", "InvalidParameter", "Subject too long or with line breaks"),
      };
    if (!opts.topics.includes(topicArn))
      return { status: 404, body: errorXml("Sender", "NotFound", "Topic does not exist") };
    const attributes: Record<string, string> = {};
    for (let n = 1; f.has(`MessageAttributes.entry.${n}.Name`); n++) {
      const type = f.get(`MessageAttributes.entry.${n}.Value.DataType`);
      need(type === "String", "attributes are Strings");
      attributes[f.get(`MessageAttributes.entry.${n}.Name`)!] =
        f.get(`MessageAttributes.entry.${n}.Value.StringValue`) ?? "";
    }
    const fifo = topicArn.endsWith(".fifo");
    if (fifo && !f.get("MessageGroupId"))
      return {
        status: 400,
        body: errorXml("Sender", "InvalidParameter", "MessageGroupId is required for FIFO topics"),
      };
    published.push({
      topicArn,
      message,
      subject,
      attributes,
      groupId: f.get("MessageGroupId") ?? undefined,
      dedupId: f.get("MessageDeduplicationId") ?? undefined,
    });
    return {
      status: 200,
      headers: { "content-type": "text/xml" },
      body: `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-${published.length}</MessageId></PublishResult><ResponseMetadata><RequestId>req-${published.length}</RequestId></ResponseMetadata></PublishResponse>`,
    };
  });
  return Object.assign(fake, { published });
}
