// The channel a live event names (Message.channel, TypingEvent.channel), looked up once
// for every local subscriber of the event instead of once per subscriber: each stream has
// a context of its own, so its request-scoped loaders cannot share (issue 10's statement
// count). A looked-up channel serves for a second; its viewer-specific fields (the unread
// count) still resolve per subscriber. Queries and mutations keep their own loaders, so a
// read after a write never sees this copy.
import { LocalMemo } from "../cache/local-memo.js";
import type { PrismaClient } from "../db/database.js";
import type { Channel } from "../db/generated/prisma/client.js";

const FRESH_FOR_MS = 1000;

export class EventChannels {
  readonly #loads = new LocalMemo<Promise<Channel | null>>(10_000);

  load(prisma: PrismaClient, channelId: string): Promise<Channel | null> {
    const now = Date.now();
    const known = this.#loads.get(channelId, now);
    if (known) return known;
    const load = prisma.channel.findUnique({ where: { id: channelId } });
    this.#loads.set(channelId, load, now + FRESH_FOR_MS);
    // A failed lookup is not kept: the next event asks again.
    load.catch(() => {
      if (this.#loads.get(channelId) === load) this.#loads.delete(channelId);
    });
    return load;
  }
}
