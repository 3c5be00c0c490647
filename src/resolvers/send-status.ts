// What became of a send: a client that lost the answer to sendMessage (or its socket
// while waiting for messageAdded / messageRejected) asks by its clientMessageId.
import type { Context } from "../context.js";
import { publicUserFields } from "../pubsub/public-user.js";
import { clientMessageId, type MessageView, messageIdFor } from "./messages.js";
import { parseInput } from "./validation.js";
import { requireViewerId } from "./viewer.js";

export type SendState = "PENDING" | "STORED" | "REFUSED";

export interface SendStatusView {
  clientMessageId: string;
  state: SendState;
  /** The stored message (STORED). */
  message: MessageView | null;
  /** Why it was refused (REFUSED). */
  reason: string | null;
  refusedAt: Date | null;
}

export async function sendStatus(ctx: Context, raw: unknown): Promise<SendStatusView> {
  const viewerId = requireViewerId(ctx);
  const key = parseInput(clientMessageId, raw, "clientMessageId");
  const id = messageIdFor(viewerId, key);
  const [message, refused] = await Promise.all([
    ctx.prisma.message.findUnique({
      where: { id },
      include: { sender: { select: publicUserFields } },
    }),
    ctx.prisma.refusedCommand.findUnique({
      where: { id },
      select: { reason: true, refusedAt: true },
    }),
  ]);
  // Stored wins: a send refused once (not a member yet) and retried later may be stored.
  if (message)
    return { clientMessageId: key, state: "STORED", message, reason: null, refusedAt: null };
  if (refused)
    return {
      clientMessageId: key,
      state: "REFUSED",
      message: null,
      reason: refused.reason,
      refusedAt: refused.refusedAt,
    };
  return { clientMessageId: key, state: "PENDING", message: null, reason: null, refusedAt: null };
}
