// Uploading through createUpload's answer, as a client does, and a tiny real PNG whose
// dimensions the server must read.
import { deflateSync } from "node:zlib";
import { CreateUploadDocument } from "../gql/graphql.js";
import { mustRequest } from "./app.js";

function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** A valid PNG of `width` x `height` grey pixels. */
export function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.concat(
    Array.from({ length: height }, () =>
      Buffer.concat([Buffer.from([0]), Buffer.alloc(width, 0x80)]),
    ),
  );
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** An upload URL as a client resolves it: relative ones against the API's origin. */
export const absolute = (target: { url: string }, url: string) =>
  new URL(url, target.url).toString();

/** createUpload, then PUT `bytes` where it says; the attachment and the PUT's status. */
export async function upload(
  target: { url: string },
  token: string,
  channelId: string,
  file: { filename: string; contentType: string; bytes: Buffer },
) {
  const answer = await mustRequest(
    target,
    CreateUploadDocument,
    {
      input: {
        channelId,
        filename: file.filename,
        contentType: file.contentType,
        size: file.bytes.length,
      },
    },
    token,
  );
  const { uploadUrl, uploadHeaders, attachment } = answer.createUpload;
  const response = await fetch(absolute(target, uploadUrl), {
    method: answer.createUpload.uploadMethod,
    headers: Object.fromEntries(uploadHeaders.map((h) => [h.name, h.value])),
    body: new Uint8Array(file.bytes),
  });
  await response.arrayBuffer();
  return { attachment, status: response.status, uploadUrl: absolute(target, uploadUrl) };
}
