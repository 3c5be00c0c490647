// What every scenario is handed: the running topology, the run's database, its secret,
// and a way to send a message as a user (the parent's own HTTP client).
import type pg from "pg";
import { globalId } from "../../src/resolvers/global-ids.js";
import type { Topology } from "./topology.js";

export interface BenchContext {
  topology: Topology;
  pool: pg.Pool;
  jwtSecret: string;
  log(message: string): void;
}

const SEND = `mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { id } }`;

/** Posts one message (body = clientMessageId = `tag`) to `url` as the token's user. */
export async function sendMessage(url: string, token: string, channelId: string, tag: string) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: SEND,
      // Seeded rows have row ids; the API takes global ids.
      variables: {
        input: { channelId: globalId("Channel", channelId), body: tag, clientMessageId: tag },
      },
    }),
  });
  const result = (await response.json()) as { errors?: unknown[] };
  if (result.errors) throw new Error(`sendMessage failed: ${JSON.stringify(result.errors)}`);
}
