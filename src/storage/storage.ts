// The attachment storage port: where uploaded files live. Clients never send files
// through GraphQL: createUpload hands out a signed, expiring URL they PUT the file to,
// and every Attachment.url is a signed, expiring URL to read it. Two adapters: the local
// disk (the embedded default, served by the api itself: local-storage.ts) and any S3 API
// (presigned URLs: s3-storage.ts).

export interface StoredFile {
  /** Where it lives in the storage (`<channelId>/<attachmentId>`). */
  key: string;
  contentType: string;
  size: number;
  filename: string;
}

export interface UploadTarget {
  /** PUT the file's bytes here, with exactly these headers. */
  url: string;
  headers: Record<string, string>;
}

export interface AttachmentStorage {
  readonly kind: "local" | "s3";
  /** Where the uploader PUTs the file (its size and type are part of the signature), until `expiresAt`. */
  uploadTarget(file: StoredFile, expiresAt: Date): Promise<UploadTarget>;
  /** A URL that reads the file until `expiresAt`, served with its type and name. */
  downloadUrl(file: StoredFile, expiresAt: Date): Promise<string>;
  /** The stored object's size, or null when nothing was uploaded (yet). */
  stat(key: string): Promise<{ size: number } | null>;
  /** Its first `bytes` bytes (fewer for a shorter file): enough to read an image's size. */
  readStart(key: string, bytes: number): Promise<Buffer>;
  /** Removes the file (nothing happens when there is none). */
  delete(key: string): Promise<void>;
  /** Releases its connections (S3's sockets), if it holds any. */
  close?(): void;
}
