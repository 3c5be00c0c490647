// What examples/urql/main.ts does, as a function the tests can drive: sign in, list the
// inbox, send a message optimistically, and print live messages, receipts, typing and
// presence until stopped.
import { randomUUID } from "node:crypto";
import * as ops from "../operations.js";
import { signIn } from "../session.js";
import { PAGE } from "./cache.js";
import { createChatClient } from "./client.js";

export interface DemoOptions {
  url: string;
  wsUrl: string;
  login: string;
  password: string;
  /** One line of output. */
  print: (line: string) => void;
}

export async function runDemo({ url, wsUrl, login, password, print }: DemoOptions) {
  const session = await signIn(url, login, password);
  const { client, close } = createChatClient({
    url,
    wsUrl,
    session,
    onCacheWarning: (message) => print(`cache warning: ${message}`),
  });
  print(`signed in as ${session.user.displayName}`);

  const inbox = await client.query(ops.Inbox, { first: PAGE.inbox }).toPromise();
  if (inbox.error) throw inbox.error;
  const channels = inbox.data?.channels.edges.map((edge) => edge.node) ?? [];
  for (const channel of channels) {
    const title = channel.name ? `#${channel.name}` : `@${channel.peer?.displayName}`;
    print(`inbox: ${title} (${channel.unreadCount} unread) ${channel.lastMessage?.body ?? ""}`);
  }

  const names = new Map(channels.map((channel) => [channel.id, channel.name ?? "direct"]));
  const subscriptions = [
    client.subscription(ops.MessageAdded, {}).subscribe(({ data }) => {
      const message = data?.messageAdded;
      if (message)
        print(
          `message in ${names.get(message.channel.id) ?? "?"} #${message.seq} from ${message.sender.displayName}: ${message.body}`,
        );
    }),
    client.subscription(ops.ReceiptUpdated, {}).subscribe(({ data }) => {
      const receipt = data?.receiptUpdated;
      if (receipt)
        print(`receipt: ${receipt.user.displayName} ${receipt.status} up to #${receipt.seq}`);
    }),
    client.subscription(ops.PresenceChanged, {}).subscribe(({ data }) => {
      const presence = data?.presenceChanged;
      if (presence) print(`presence: ${presence.user.displayName} ${presence.status}`);
    }),
    ...channels.map((channel) =>
      client.subscription(ops.Typing, { channelId: channel.id }).subscribe(({ data }) => {
        const typing = data?.typing;
        if (typing)
          print(
            `typing: ${typing.user.displayName} ${typing.isTyping ? "is typing" : "stopped"} in ${names.get(typing.channel.id)}`,
          );
      }),
    ),
  ];

  const first = channels[0];
  if (first) {
    // Shown at once as PENDING (cache.ts's optimistic sendMessage), stored a moment later.
    const clientMessageId = randomUUID();
    const sent = await client
      .mutation(ops.SendMessage, {
        input: { channelId: first.id, body: "Hello from the urql example", clientMessageId },
      })
      .toPromise();
    print(`sent: ${sent.data?.sendMessage.status ?? sent.error?.message}`);
  }

  return {
    stop: () => {
      for (const subscription of subscriptions) subscription.unsubscribe();
      close();
    },
  };
}
