// Sending through the public API and waiting until the worker stored it (sendStatus says
// STORED), for tests that need a message with its seq before they go on.
import { randomUUID } from "node:crypto";
import type { SendMessageCommand } from "../../src/pubsub/commands.js";
import { messageIdFor } from "../../src/resolvers/messages.js";
import { SendMessageDocument, SendStatusDocument } from "../gql/graphql.js";
import { mustRequest, type RunningApp } from "./app.js";
import { dbId } from "./ids.js";
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

/**
 * Enqueues a send straight onto the bus, as a replica whose check was stale would, and
 * waits for the worker's verdict: the send's final status (STORED or REFUSED).
 */
export async function sendPastTheApi(
  target: RunningApp,
  from: { accessToken: string; user: { id: string } },
  channelId: string,
  body: string,
  extra: Pick<SendMessageCommand, "replyToId" | "inThread" | "attachmentIds"> = {},
) {
  const senderId = dbId(from.user.id);
  const clientMessageId = randomUUID();
  await target.app.services.bus.sendCommand({
    type: "message.send",
    messageId: messageIdFor(senderId, clientMessageId),
    channelId: dbId(channelId),
    senderId,
    clientMessageId,
    body,
    createdAt: new Date().toISOString(),
    ...extra,
  });
  const status = await eventually(
    () => mustRequest(target, SendStatusDocument, { clientMessageId }, from.accessToken),
    (answer) => answer.sendStatus.state !== "PENDING",
  );
  return status.sendStatus;
}
