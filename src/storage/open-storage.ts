// Picks the attachment storage from the configuration: S3 when S3_BUCKET is set, else
// the local disk under DATA_DIR/uploads (signed with a key derived from the JWT secret).
import { createHmac } from "node:crypto";
import { join } from "node:path";
import type { Config } from "../config.js";
import { LocalStorage } from "./local-storage.js";
import { S3Storage } from "./s3-storage.js";
import type { AttachmentStorage } from "./storage.js";

export function openStorage(config: Config, jwtSecret: string): AttachmentStorage {
  const { s3, publicUrl } = config.attachments;
  if (s3) return new S3Storage(s3);
  // Its own key: a leaked upload URL reveals nothing about tokens' signatures.
  const key = createHmac("sha256", jwtSecret).update("attachment-urls").digest("hex");
  return new LocalStorage(join(config.dataDir, "uploads"), key, publicUrl);
}
