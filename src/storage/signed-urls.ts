// Signed, expiring URLs for the local-disk storage: what the api serves under /uploads is
// only what one of its URLs names, until it expires. The signature covers the method,
// the key, the expiry and what the server will enforce or say (size and type of an
// upload; type and file name of a download), so none of them can be changed.
import { createHmac, timingSafeEqual } from "node:crypto";

export interface SignedParams {
  method: "PUT" | "GET";
  key: string;
  /** Unix seconds. */
  expires: number;
  /** PUT: the exact size; GET: unused. */
  size?: number;
  contentType: string;
  /** GET: the name it is served under. */
  filename?: string;
}

function payload(p: SignedParams) {
  return [p.method, p.key, p.expires, p.size ?? "", p.contentType, p.filename ?? ""].join("\n");
}

export class UrlSigner {
  constructor(private readonly secret: string) {}

  sign(params: SignedParams): string {
    return createHmac("sha256", this.secret).update(payload(params)).digest("base64url");
  }

  /** The signature is right and not expired. */
  verify(params: SignedParams, signature: string, now = Date.now()): boolean {
    if (!(params.expires * 1000 > now)) return false;
    const expected = Buffer.from(this.sign(params));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
