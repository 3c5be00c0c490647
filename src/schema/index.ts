// Imports every domain file (each registers its types and fields) and builds the schema.
import { builder } from "./builder.js";
import "./user.js";
import "./contact.js";
import "./group.js";
import "./channel.js";
import "./message.js";
import "./receipt.js";
import "./presence.js";
import "./typing.js";
import "./heartbeat.js";
import "./error-code.js";
import "./node.js";
import "./search.js";
import "./reaction.js";
import "./thread.js";
import "./attachment.js";

export const schema = builder.toSchema({ sortSchema: true });
