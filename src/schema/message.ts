// Messages as the inbox and history show them. (Sending, editing and live delivery
// come with the message pipeline.)
import { builder } from "./builder.js";

builder.prismaObject("Message", {
  fields: (t) => ({
    id: t.exposeID("id"),
    clientMessageId: t.exposeString("clientMessageId", {
      description:
        "The sender's idempotency key: a retried send with the same key is the same message.",
    }),
    seq: t.exposeInt("seq", { description: "Position in the channel: 1, 2, 3… with no gaps." }),
    body: t.string({
      nullable: true,
      description: "Null once the message is deleted.",
      select: { body: true, deletedAt: true },
      resolve: (message) => (message.deletedAt ? null : message.body),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    editedAt: t.expose("editedAt", { type: "DateTime", nullable: true }),
    deletedAt: t.expose("deletedAt", { type: "DateTime", nullable: true }),
    sender: t.relation("sender"),
    channel: t.relation("channel"),
  }),
});
