// Attachments in any S3 API (AWS S3, MinIO, R2, …): presigned PUT and GET URLs, so file
// bytes never pass through the api. The PUT's signature covers its Content-Type and
// Content-Length: the client cannot store another size or type than createUpload said.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NotFound,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { AttachmentConfig } from "../config.js";
import type { AttachmentStorage, StoredFile, UploadTarget } from "./storage.js";

type S3Config = NonNullable<AttachmentConfig["s3"]>;

const secondsUntil = (at: Date) => Math.max(1, Math.floor((at.getTime() - Date.now()) / 1000));

export class S3Storage implements AttachmentStorage {
  readonly kind = "s3";
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(config: S3Config) {
    this.#bucket = config.bucket;
    this.#client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      credentials: config.credentials,
    });
  }

  async uploadTarget(file: StoredFile, expiresAt: Date): Promise<UploadTarget> {
    const command = new PutObjectCommand({
      Bucket: this.#bucket,
      Key: file.key,
      ContentType: file.contentType,
      ContentLength: file.size,
    });
    const url = await getSignedUrl(this.#client, command, {
      expiresIn: secondsUntil(expiresAt),
      signableHeaders: new Set(["content-type", "content-length"]),
    });
    return { url, headers: { "content-type": file.contentType } };
  }

  downloadUrl(file: StoredFile, expiresAt: Date): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: file.key,
      ResponseContentType: file.contentType,
      ResponseContentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(file.filename)}`,
    });
    return getSignedUrl(this.#client, command, { expiresIn: secondsUntil(expiresAt) });
  }

  async stat(key: string) {
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: key }),
      );
      return { size: Number(head.ContentLength ?? 0) };
    } catch (error) {
      if (error instanceof NotFound || (error as { name?: string }).name === "NotFound")
        return null;
      throw error;
    }
  }

  async delete(key: string) {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
  }

  async readStart(key: string, bytes: number) {
    const object = await this.#client.send(
      new GetObjectCommand({ Bucket: this.#bucket, Key: key, Range: `bytes=0-${bytes - 1}` }),
    );
    return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
  }

  close() {
    this.#client.destroy();
  }
}
