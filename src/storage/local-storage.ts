// Attachments on the local disk (the embedded default): files under DATA_DIR/uploads,
// written and read through the api's own /uploads URLs, signed and expiring
// (signed-urls.ts). An upload is written to a temporary file and renamed into place only
// when exactly the declared number of bytes arrived, so a half-finished upload is never
// a stored file.

import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { UrlSigner } from "./signed-urls.js";
import type { AttachmentStorage, StoredFile, UploadTarget } from "./storage.js";

/** `<channelId>/<attachmentId>`: nothing else names a file here (no `..`, no other directory). */
const KEY = /^[0-9a-f-]{36}\/[0-9a-f-]{36}$/;
export const UPLOADS_PATH = "/uploads/";

export class LocalStorage implements AttachmentStorage {
  readonly kind = "local";
  readonly #signer: UrlSigner;

  constructor(
    private readonly root: string,
    secret: string,
    /** Origin of the URLs (undefined: relative to the api's origin). */
    private readonly publicUrl: string | undefined,
  ) {
    this.#signer = new UrlSigner(secret);
  }

  #url(key: string, query: Record<string, string>) {
    return `${this.publicUrl ?? ""}${UPLOADS_PATH}${key}?${new URLSearchParams(query)}`;
  }

  async uploadTarget(file: StoredFile, expiresAt: Date): Promise<UploadTarget> {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    const sig = this.#signer.sign({
      method: "PUT",
      key: file.key,
      expires,
      size: file.size,
      contentType: file.contentType,
    });
    return {
      url: this.#url(file.key, {
        expires: String(expires),
        size: String(file.size),
        type: file.contentType,
        sig,
      }),
      headers: { "content-type": file.contentType },
    };
  }

  async downloadUrl(file: StoredFile, expiresAt: Date): Promise<string> {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    const params = {
      method: "GET" as const,
      key: file.key,
      expires,
      contentType: file.contentType,
      filename: file.filename,
    };
    return this.#url(file.key, {
      expires: String(expires),
      type: file.contentType,
      name: file.filename,
      sig: this.#signer.sign(params),
    });
  }

  #path(key: string) {
    if (!KEY.test(key)) throw new Error(`not a storage key: ${key}`);
    return join(this.root, key);
  }

  async stat(key: string) {
    try {
      return { size: (await stat(this.#path(key))).size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async delete(key: string) {
    await rm(this.#path(key), { force: true });
  }

  async readStart(key: string, bytes: number) {
    const handle = await open(this.#path(key), "r");
    try {
      const buffer = Buffer.alloc(bytes);
      const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** Serves /uploads/… (PUT to upload, GET or HEAD to read); false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? "/", "http://local");
    if (!url.pathname.startsWith(UPLOADS_PATH)) return false;
    void this.#serve(req, res, url).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
    return true;
  }

  async #serve(req: IncomingMessage, res: ServerResponse, url: URL) {
    const answer = (status: number, message = "") => {
      res.writeHead(status, {
        "content-type": "text/plain; charset=utf-8",
        "access-control-allow-origin": "*",
      });
      res.end(message && `${message}\n`);
    };
    // A signed URL is its own permission: any origin may use it (the browser's PUT needs CORS).
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "PUT, GET, HEAD",
        "access-control-allow-headers": "content-type",
        "access-control-max-age": "600",
      });
      res.end();
      return;
    }
    const key = decodeURIComponent(url.pathname.slice(UPLOADS_PATH.length));
    const q = url.searchParams;
    const expires = Number(q.get("expires"));
    const sig = q.get("sig") ?? "";
    const contentType = q.get("type") ?? "";
    if (!KEY.test(key) || !Number.isInteger(expires)) return answer(404, "not found");

    if (req.method === "PUT") {
      const size = Number(q.get("size"));
      if (!this.#signer.verify({ method: "PUT", key, expires, size, contentType }, sig))
        return answer(403, "this upload URL is not valid, or has expired");
      if ((req.headers["content-type"] ?? "") !== contentType)
        return answer(400, `Content-Type must be ${contentType}`);
      if (Number(req.headers["content-length"]) !== size)
        return answer(400, `Content-Length must be ${size}, the size given to createUpload`);
      const path = this.#path(key);
      await mkdir(dirname(path), { recursive: true });
      const partial = `${path}.${randomUUID()}.part`;
      try {
        await pipeline(req, createWriteStream(partial, { flags: "wx" }));
        if ((await stat(partial)).size !== size) return answer(400, `expected ${size} bytes`);
        // Stored once: a file already sent in a message is never replaced behind it.
        if (await this.stat(key)) return answer(409, "already uploaded");
        await rename(partial, path);
      } finally {
        await rm(partial, { force: true });
      }
      return answer(200, "stored");
    }

    if (req.method === "GET" || req.method === "HEAD") {
      const filename = q.get("name") ?? "";
      if (!this.#signer.verify({ method: "GET", key, expires, contentType, filename }, sig))
        return answer(403, "this URL is not valid, or has expired");
      const found = await this.stat(key);
      if (!found) return answer(404, "not found");
      res.writeHead(200, {
        "content-type": contentType,
        "content-length": String(found.size),
        "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(filename)}`,
        "x-content-type-options": "nosniff",
        "cache-control": "private, max-age=3600",
        "access-control-allow-origin": "*",
      });
      if (req.method === "HEAD") return void res.end();
      await pipeline(createReadStream(this.#path(key)), res);
      return;
    }
    return answer(405, "method not allowed");
  }
}
