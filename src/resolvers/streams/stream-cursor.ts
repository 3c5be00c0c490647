// The all-channels stream's resume position: for each followed channel, the seq up to
// which everything was delivered (or came before the stream). Opaque to clients: base64url
// of a version byte and, per channel, its 16-byte id and a 32-bit seq.
import { badUserInput } from "../../errors.js";

const VERSION = 1;
const ENTRY = 20;

export function encodeStreamCursor(positions: Iterable<[string, number]>): string {
  const entries = [...positions];
  const bytes = Buffer.alloc(1 + entries.length * ENTRY);
  bytes[0] = VERSION;
  entries.forEach(([channelId, seq], i) => {
    bytes.write(channelId.replaceAll("-", ""), 1 + i * ENTRY, 16, "hex");
    bytes.writeUInt32BE(seq, 1 + i * ENTRY + 16);
  });
  return bytes.toString("base64url");
}

/** The positions in a cursor; BAD_USER_INPUT (with `field`) when it is not one of ours. */
export function decodeStreamCursor(raw: string, field: string): Map<string, number> {
  const bytes = /^[A-Za-z0-9_-]*$/.test(raw) ? Buffer.from(raw, "base64url") : undefined;
  if (!bytes || bytes.length === 0 || bytes[0] !== VERSION || (bytes.length - 1) % ENTRY !== 0)
    throw badUserInput(field, `${field}: not a cursor of this stream`);
  const positions = new Map<string, number>();
  for (let offset = 1; offset < bytes.length; offset += ENTRY) {
    const hex = bytes.toString("hex", offset, offset + 16);
    const channelId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    positions.set(channelId, bytes.readUInt32BE(offset + 16));
  }
  return positions;
}
