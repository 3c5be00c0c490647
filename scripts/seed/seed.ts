// Puts the demo data (demo-data.ts) in place through the public GraphQL API at `url`, so
// every rule applies (validation, password hashing, #general, membership events). Each
// step looks before it creates, or is idempotent itself, so a second run (or a run after
// one that failed half way) adds only what is missing. Ids are the API's global ids.
import { setTimeout as sleep } from "node:timers/promises";
import {
  DEMO_CHANNELS,
  DEMO_CONTACTS,
  DEMO_DIRECT_PEER,
  DEMO_GROUP,
  DEMO_MESSAGES,
  DEMO_OWNER,
  DEMO_PASSWORD,
  DEMO_READS,
  DEMO_USERS,
  type DemoChannel,
  type DemoUsername,
} from "./demo-data.js";
import { type Api, ApiError, apiAt } from "./graphql-client.js";

/** How long the worker may take to store a send or a read position (slow machines included). */
const WORKER_TIMEOUT_MS = 30_000;

interface Session {
  accessToken: string;
  accessTokenExpiresAt: string;
  user: { id: string };
}

export interface Seeded {
  users: Array<(typeof DEMO_USERS)[number] & { id: string }>;
  /** A session of DEMO_OWNER signed in by this run: its access token is fresh. */
  owner: Session;
}

const SESSION = "accessToken accessTokenExpiresAt user { id }";

export async function seed(url: string): Promise<Seeded> {
  const api = apiAt(url);
  const sessions = new Map<DemoUsername, Session>();
  for (const user of DEMO_USERS) sessions.set(user.username, await signIn(api, user));
  const session = (name: DemoUsername) => sessions.get(name) as Session;
  const token = (name: DemoUsername) => session(name).accessToken;
  const userId = (name: DemoUsername) => session(name).user.id;

  for (const [owner, contact] of DEMO_CONTACTS)
    await api(
      "mutation ($userId: ID!) { addContact(userId: $userId) { id } }",
      { userId: userId(contact) },
      token(owner),
    );

  const group = await demoGroup(api, token(DEMO_OWNER), DEMO_GROUP.members.map(userId));
  const channels = group.channels;
  for (const spec of DEMO_CHANNELS) {
    const id =
      channels.get(spec.name) ??
      (
        await api<{ createChannel: { id: string } }>(
          "mutation ($input: CreateChannelInput!) { createChannel(input: $input) { id } }",
          { input: { groupId: group.id, name: spec.name, isPrivate: spec.isPrivate } },
          token(DEMO_OWNER),
        )
      ).createChannel.id;
    channels.set(spec.name, id);
    await addMissingMembers(api, token(DEMO_OWNER), id, spec.members.map(userId));
  }
  const direct = await api<{ directChannel: { id: string } }>(
    "mutation ($userId: ID!) { directChannel(userId: $userId) { id } }",
    { userId: userId(DEMO_DIRECT_PEER) },
    token(DEMO_OWNER),
  );
  channels.set("direct", direct.directChannel.id);
  const channelId = (name: DemoChannel) => channels.get(name) as string;

  // One at a time, each stored before the next is sent: the seqs follow DEMO_MESSAGES.
  for (const message of DEMO_MESSAGES)
    await sendStored(api, token(message.sender), {
      channelId: channelId(message.channel),
      clientMessageId: message.clientMessageId,
      body: message.body,
    });
  for (const read of DEMO_READS)
    await markReadStored(api, token(read.user), channelId(read.channel), read.upToSeq);

  return {
    users: DEMO_USERS.map((user) => ({ ...user, id: userId(user.username) })),
    owner: session(DEMO_OWNER),
  };
}

/**
 * Signs in, and registers only when that fails: a rerun then never counts against the
 * per-address registration limit (the login limit forgives an account's successes).
 */
async function signIn(api: Api, user: (typeof DEMO_USERS)[number]): Promise<Session> {
  try {
    const data = await api<{ login: Session }>(
      `mutation ($input: LoginInput!) { login(input: $input) { ${SESSION} } }`,
      { input: { login: user.username, password: DEMO_PASSWORD } },
    );
    return data.login;
  } catch (error) {
    if (!(error instanceof ApiError && error.code === "UNAUTHENTICATED")) throw error;
  }
  try {
    const data = await api<{ register: Session }>(
      `mutation ($input: RegisterInput!) { register(input: $input) { ${SESSION} } }`,
      { input: { ...user, password: DEMO_PASSWORD } },
    );
    return data.register;
  } catch (error) {
    if (error instanceof ApiError && error.code === "BAD_USER_INPUT")
      throw new Error(
        `${user.username} exists but does not sign in with the demo password (${error.message})`,
      );
    throw error;
  }
}

/** The owner's "Demo team", created (with its members and #general) if they have none yet. */
async function demoGroup(
  api: Api,
  token: string,
  memberIds: string[],
): Promise<{ id: string; channels: Map<string, string> }> {
  const { groups } = await api<{
    groups: { edges: Array<{ node: { id: string; name: string } }> };
  }>("{ groups(first: 100) { edges { node { id name } } } }", {}, token);
  const groupId =
    groups.edges.find((edge) => edge.node.name === DEMO_GROUP.name)?.node.id ??
    (
      await api<{ createGroup: { id: string } }>(
        "mutation ($input: CreateGroupInput!) { createGroup(input: $input) { id } }",
        { input: { name: DEMO_GROUP.name, description: DEMO_GROUP.description, memberIds } },
        token,
      )
    ).createGroup.id;
  const { group } = await api<{
    group: { channels: { edges: Array<{ node: { id: string; name: string } }> } };
  }>(
    "query ($id: ID!) { group(id: $id) { channels(first: 100) { edges { node { id name } } } } }",
    { id: groupId },
    token,
  );
  return {
    id: groupId,
    channels: new Map(group.channels.edges.map((edge) => [edge.node.name, edge.node.id])),
  };
}

/** Adding someone already in the channel is refused, so only those missing are added. */
async function addMissingMembers(api: Api, token: string, channelId: string, userIds: string[]) {
  const { channel } = await api<{
    channel: { members: { edges: Array<{ node: { user: { id: string } } }> } };
  }>(
    "query ($id: ID!) { channel(id: $id) { members(first: 100) { edges { node { user { id } } } } } }",
    { id: channelId },
    token,
  );
  const present = new Set(channel.members.edges.map((edge) => edge.node.user.id));
  const missing = userIds.filter((id) => !present.has(id));
  if (missing.length > 0)
    await api(
      "mutation ($channelId: ID!, $userIds: [ID!]!) { addChannelMembers(channelId: $channelId, userIds: $userIds) { id } }",
      { channelId, userIds: missing },
      token,
    );
}

/**
 * Sends (a rerun's send of a stored message answers it, with its seq) and waits until the
 * worker stored it: the API answers PENDING before that.
 */
async function sendStored(
  api: Api,
  token: string,
  input: { channelId: string; clientMessageId: string; body: string },
) {
  const sent = await api<{ sendMessage: { seq: number | null } }>(
    "mutation ($input: SendMessageInput!) { sendMessage(input: $input) { seq } }",
    { input },
    token,
  );
  if (sent.sendMessage.seq !== null) return;
  const { sendStatus } = await until(
    `message ${input.clientMessageId} to be stored`,
    () =>
      api<{ sendStatus: { state: string; reason: string | null } }>(
        "query ($key: String!) { sendStatus(clientMessageId: $key) { state reason } }",
        { key: input.clientMessageId },
        token,
      ),
    (status) => status.sendStatus.state !== "PENDING",
  );
  if (sendStatus.state === "REFUSED")
    throw new Error(`message ${input.clientMessageId} was refused: ${sendStatus.reason}`);
}

/** markRead is stored by the worker too; a position never moves back, so a rerun is a no-op. */
async function markReadStored(api: Api, token: string, channelId: string, upToSeq: number) {
  await api(
    "mutation ($channelId: ID!, $upToSeq: Int!) { markRead(channelId: $channelId, upToSeq: $upToSeq) { channel { id } } }",
    { channelId, upToSeq },
    token,
  );
  await until(
    `a read position of ${upToSeq}`,
    () =>
      api<{ channel: { viewerReadUpToSeq: number | null } }>(
        "query ($id: ID!) { channel(id: $id) { viewerReadUpToSeq } }",
        { id: channelId },
        token,
      ),
    (read) => (read.channel.viewerReadUpToSeq ?? 0) >= upToSeq,
  );
}

/** Polls `read` until `done` accepts what it gives (no fixed sleeps: as soon as it holds). */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean) {
  const deadline = Date.now() + WORKER_TIMEOUT_MS;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: is a worker storing the commands?`);
    await sleep(50);
  }
}
