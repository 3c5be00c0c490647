// Sending through the public API and waiting until the worker stored it (sendStatus says
// STORED), for tests that need a message with its seq before they go on.
import { randomUUID } from "node:crypto";
import { SendMessageDocument, SendStatusDocument } from "../gql/graphql.js";
import { mustRequest } from "./app.js";
import { eventually } from "./wait.js";

/** Sends `body` to `channelId` as the token's user (a reply with `reply`); the stored message (id, seq, …). */
export async function sendAndStore(
  target: { url: string },
  from: { accessToken: string },
  channelId: string,
  body: string,
  /** A reply: to which message, and whether in its thread. */
  reply: { replyTo?: string; inThread?: boolean } = {},
) {
  const sent = await mustRequest(
    target,
    SendMessageDocument,
    { input: { channelId, body, clientMessageId: randomUUID(), ...reply } },
    from.accessToken,
  );
  const status = await eventually(
    () =>
      mustRequest(
        target,
        SendStatusDocument,
        { clientMessageId: sent.sendMessage.clientMessageId },
        from.accessToken,
      ),
    (answer) => answer.sendStatus.state === "STORED",
  );
  const message = status.sendStatus.message;
  if (!message) throw new Error(`not stored: ${JSON.stringify(status.sendStatus)}`);
  return message;
}
