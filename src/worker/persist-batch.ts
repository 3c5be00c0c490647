// Persists one batch of one shard's commands in ONE transaction with multi-row
// statements, and writes the events that announce it to the outbox in the same
// transaction: either all of it happened and will be announced, or none of it.
import type { Sql, SqlTx } from "../db/sql.js";
import type {
  Command,
  DeleteMessageCommand,
  EditMessageCommand,
  MuteChannelCommand,
  PinMessageCommand,
  ReactionCommand,
  ReadThreadCommand,
  ReceiptCommand,
  SendMessageCommand,
} from "../pubsub/commands.js";
import { type MessagePayload, routingKeys } from "../pubsub/events.js";
import { type OutboxEntry, type OutboxWrite, writeOutbox } from "./outbox.js";
import { loadMessagePayloads, loadPublicUsers } from "./payloads.js";
import { deleteMessage, editMessage, muteChannel, pinMessage } from "./persist-changes.js";
import { recordMentions, rewriteMentions } from "./persist-mentions.js";
import { insertMessages } from "./persist-messages.js";
import { applyReaction } from "./persist-reactions.js";
import { applyReceipts, receiptEvents } from "./persist-receipts.js";
import { readThread, recordReplies } from "./persist-threads.js";
import { recordRefusals } from "./refusals.js";
import { writeWebhooks } from "./webhook-events.js";

/** A batch may hold up to WORKER_BATCH_SIZE commands and wait on row locks: a statement may take a while, not forever. */
const STATEMENT_TIMEOUT_MS = 30_000;

type MessageChange = EditMessageCommand | DeleteMessageCommand | PinMessageCommand;

/** How each change to a stored message is applied; true when it changed something. */
const APPLY_CHANGE: {
  [T in MessageChange["type"]]: (
    tx: SqlTx,
    command: Extract<MessageChange, { type: T }>,
  ) => Promise<boolean>;
} = {
  "message.edit": editMessage,
  "message.delete": deleteMessage,
  "message.pin": pinMessage,
  "message.unpin": pinMessage,
};

const isChange = (command: Command): command is MessageChange => command.type in APPLY_CHANGE;

const KNOWN_TYPES = new Set<string>([
  "message.send",
  ...Object.keys(APPLY_CHANGE),
  "receipt.delivered",
  "receipt.read",
  "reaction.add",
  "reaction.remove",
  "thread.read",
  "channel.mute",
]);

/**
 * Persists `commands` and their events; returns what it wrote to the outbox. Runs under
 * the shard's outbox lock (`outboxLock`), so a flush of the shard (the sweep's) finishes
 * before the batch starts and its events leave first.
 */
export async function persistBatch(
  sql: Sql,
  shard: number,
  commands: Command[],
  outboxLock: readonly [number, number],
  /** Outgoing webhooks' receivers (none: no webhooks written). */
  webhookUrls: string[] = [],
  /** The outbox rows of the shard's previous batch, being published from memory (writeOutbox). */
  publishing: readonly string[] = [],
): Promise<OutboxWrite> {
  const sends = commands.filter((c): c is SendMessageCommand => c.type === "message.send");
  const changes = commands.filter(isChange);
  const receipts = commands.filter(
    (c): c is ReceiptCommand => c.type === "receipt.delivered" || c.type === "receipt.read",
  );
  const mutes = commands.filter((c): c is MuteChannelCommand => c.type === "channel.mute");
  const threadReads = commands.filter((c): c is ReadThreadCommand => c.type === "thread.read");
  const reactions = commands.filter(
    (c): c is ReactionCommand => c.type === "reaction.add" || c.type === "reaction.remove",
  );
  // A command of no known type can never succeed: failing makes the runner find and refuse it.
  const unknown = commands.find((c) => !KNOWN_TYPES.has(c.type));
  if (unknown) throw new Error(`unknown command type ${JSON.stringify(unknown.type)}`);

  return sql.transaction(
    async (tx) => {
      const { inserted, refused } = await insertMessages(tx, sends);
      const mentioned = await recordMentions(tx, inserted);
      await recordReplies(tx, inserted);
      const changed: Array<{ id: string; type: "message.updated" | "message.deleted" }> = [];
      for (const command of changes) {
        const apply = APPLY_CHANGE[command.type] as (
          tx: SqlTx,
          command: MessageChange,
        ) => Promise<boolean>;
        const done = await apply(tx, command);
        // Nothing changed: not allowed after all, already deleted, or a redelivery.
        if (done)
          changed.push({
            id: command.messageId,
            type: command.type === "message.delete" ? "message.deleted" : "message.updated",
          });
      }
      // A member's own setting: nothing to announce (no stream carries it yet).
      for (const command of mutes) await muteChannel(tx, command);
      // So is how far one has read a thread (their answer already says it).
      for (const command of threadReads) await readThread(tx, command);
      // In command order (the distinct-emoji bound depends on it); what changed nothing
      // (a second add, a refusal, a redelivery) is not announced.
      const reacted: ReactionCommand[] = [];
      for (const command of reactions) if (await applyReaction(tx, command)) reacted.push(command);
      // After the sends: a receipt may name a message of this very batch.
      const moved = await applyReceipts(tx, receipts);

      const events: OutboxEntry[] = [];
      const created = new Map<string, MessagePayload[]>();
      for (const payload of inserted)
        created.set(payload.channelId, [...(created.get(payload.channelId) ?? []), payload]);
      const payloads = await loadMessagePayloads(tx, [
        ...changed.map((c) => c.id),
        ...reacted.map((c) => c.messageId),
      ]);
      // An edit may name other people (or no one) now.
      await rewriteMentions(
        tx,
        changes
          .filter((c) => c.type === "message.edit")
          .flatMap((c) => payloads.get(c.messageId) ?? []),
      );
      // One event per channel carries all of its new messages, in seq order.
      for (const [channelId, messages] of created) {
        messages.sort((a, b) => a.seq - b.seq);
        events.push({
          routingKey: routingKeys.channel(channelId),
          event: { type: "message.created", channelId, messages },
        });
      }
      for (const change of changed) {
        const message = payloads.get(change.id);
        if (message)
          events.push({
            routingKey: routingKeys.channel(message.channelId),
            event: { type: change.type, channelId: message.channelId, message },
          });
      }
      // Each reaction's event carries the message's tally after the whole batch.
      const reactors = await loadPublicUsers(tx, [...new Set(reacted.map((c) => c.userId))]);
      for (const command of reacted) {
        const message = payloads.get(command.messageId);
        const user = reactors.get(command.userId);
        if (message && user)
          events.push({
            routingKey: routingKeys.channel(message.channelId),
            event: {
              type: "message.reactions",
              channelId: message.channelId,
              message,
              emoji: command.emoji,
              user,
              added: command.type === "reaction.add",
              at: command.at,
            },
          });
      }
      events.push(...(await receiptEvents(tx, moved)));
      events.push(...(await recordRefusals(tx, refused)));
      await writeWebhooks(tx, webhookUrls, events, mentioned);
      return writeOutbox(tx, shard, events, publishing);
    },
    // Every statement here looks rows up by key, whatever the batch holds: planning each
    // anew per batch was a third of PostgreSQL's time per direct message (sql.ts says why
    // the plans are index probes too).
    { statementTimeoutMs: STATEMENT_TIMEOUT_MS, advisoryLock: outboxLock, keyProbes: true },
  );
}
