// What `npm run seed` creates. Everything is fixed (names, bodies, clientMessageIds), so
// every run and every teammate gets the same data, and a second run finds it in place.

/** The README's examples sign in as alice with this password, so they work on seeded data. */
export const DEMO_PASSWORD = "correct horse battery";

export const DEMO_USERS = [
  { username: "alice", displayName: "Alice Archer", email: "alice@example.com" },
  { username: "bob", displayName: "Bob Baker", email: "bob@example.com" },
  { username: "carol", displayName: "Carol Chen", email: "carol@example.com" },
  { username: "dave", displayName: "Dave Diaz", email: "dave@example.com" },
] as const;

export type DemoUsername = (typeof DEMO_USERS)[number]["username"];

/** Owns the group and its channels, and is the one whose token the seed prints. */
export const DEMO_OWNER: DemoUsername = "alice";

/** Whose contact list holds whom. */
export const DEMO_CONTACTS: ReadonlyArray<readonly [DemoUsername, DemoUsername]> = [
  ["alice", "bob"],
  ["alice", "carol"],
  ["bob", "alice"],
];

export const DEMO_GROUP = {
  name: "Demo team",
  description: "Demo data from `npm run seed`.",
  members: ["bob", "carol", "dave"] as DemoUsername[],
};

/** #general comes with the group (everyone is in it); these are created beside it. */
export const DEMO_CHANNELS = [
  { name: "random", isPrivate: false, members: ["bob", "carol"] as DemoUsername[] },
  { name: "leads", isPrivate: true, members: ["bob"] as DemoUsername[] },
] as const;

/** The direct conversation's other member (the owner opens it). */
export const DEMO_DIRECT_PEER: DemoUsername = "bob";

/** A group channel by name, or the direct conversation. */
export type DemoChannel = "general" | (typeof DEMO_CHANNELS)[number]["name"] | "direct";

/** In the order they are sent: each channel's seqs are 1, 2, 3… in this order. */
export const DEMO_MESSAGES: ReadonlyArray<{
  channel: DemoChannel;
  sender: DemoUsername;
  clientMessageId: string;
  body: string;
}> = [
  {
    channel: "general",
    sender: "alice",
    clientMessageId: "seed-general-1",
    body: "Welcome to the Demo team! This is #general, where everyone is.",
  },
  {
    channel: "general",
    sender: "bob",
    clientMessageId: "seed-general-2",
    body: "Thanks Alice, happy to be here.",
  },
  {
    channel: "general",
    sender: "carol",
    clientMessageId: "seed-general-3",
    body: "Hi all! Carol from design.",
  },
  {
    channel: "general",
    sender: "alice",
    clientMessageId: "seed-general-4",
    body: "Standup is at 10:00 every morning.",
  },
  {
    channel: "random",
    sender: "bob",
    clientMessageId: "seed-random-1",
    body: "Anyone up for lunch on Friday?",
  },
  { channel: "random", sender: "carol", clientMessageId: "seed-random-2", body: "Count me in!" },
  {
    channel: "leads",
    sender: "alice",
    clientMessageId: "seed-leads-1",
    body: "The Q3 roadmap draft is in the shared folder.",
  },
  {
    channel: "leads",
    sender: "bob",
    clientMessageId: "seed-leads-2",
    body: "Thanks, I will review it today.",
  },
  {
    channel: "direct",
    sender: "bob",
    clientMessageId: "seed-direct-1",
    body: "Hi Alice, do you have a minute later?",
  },
  {
    channel: "direct",
    sender: "alice",
    clientMessageId: "seed-direct-2",
    body: "Sure, after standup?",
  },
  {
    channel: "direct",
    sender: "bob",
    clientMessageId: "seed-direct-3",
    body: "Perfect, see you then.",
  },
];

/**
 * Read positions (markRead) on top of what sending gives (a sender has read the channel up
 * to their own message). Left unread: alice 2 in #random and 1 from bob, carol 1 and dave
 * 2 in #general.
 */
export const DEMO_READS: ReadonlyArray<{
  user: DemoUsername;
  channel: DemoChannel;
  upToSeq: number;
}> = [
  { user: "bob", channel: "general", upToSeq: 4 },
  { user: "dave", channel: "general", upToSeq: 2 },
  { user: "bob", channel: "random", upToSeq: 2 },
  { user: "alice", channel: "leads", upToSeq: 2 },
];
