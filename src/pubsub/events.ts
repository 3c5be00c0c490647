// The shapes of the events that travel on the bus. They live with the bus (not with the
// resolvers or the worker) because both sides of the bus depend on them.

/** Membership changed; live subscriptions use these to follow channels a user joins or leaves. */
export type MembershipEvent =
  | { type: "channel.joined"; channelId: string; userIds: string[] }
  | { type: "channel.left"; channelId: string; userIds: string[] }
  | { type: "group.joined"; groupId: string; userIds: string[] }
  | { type: "group.left"; groupId: string; userIds: string[] }
  | {
      type: "group.roleChanged";
      groupId: string;
      userId: string;
      role: "OWNER" | "ADMIN" | "MEMBER";
    };
