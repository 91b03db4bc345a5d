/**
 * Reading request bodies (a hard byte limit, a minimum rate, a byte budget shared by every
 * request in flight), and deciding what a Content-Type means.
 */
import type { IncomingMessage } from "node:http";
import {
  BadInputError,
  OverloadedError,
  RequestTimeoutError,
  TooLargeError,
  UnsupportedMediaTypeError,
} from "../errors.ts";
import type { BytesHold } from "../inflight-bytes.ts";

/**
 * Media types a prediction may arrive as. The bytes decide the image format (magic bytes);
 * the label only has to be one a client would plausibly send for an image:
 * application/x-www-form-urlencoded is what `curl --data-binary @photo.jpg` sends by default.
 */
const RAW_IMAGE_TYPES = new Set([
  "image/jpeg",
  "image/jpg",
  "image/png",
  "application/octet-stream",
  "application/x-www-form-urlencoded",
]);

export type ImageBodyKind = { kind: "raw" } | { kind: "multipart"; boundary: string };

export function mediaType(req: IncomingMessage): string | undefined {
  return req.headers["content-type"]?.split(";")[0]?.trim().toLowerCase() || undefined;
}

export function imageBodyKind(req: IncomingMessage): ImageBodyKind {
  const type = mediaType(req);
  if (type === undefined || RAW_IMAGE_TYPES.has(type)) return { kind: "raw" };
  if (type === "multipart/form-data") {
    const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(req.headers["content-type"] ?? "");
    const boundary = m?.[1] ?? m?.[2];
    if (!boundary || boundary.length > 70)
      throw new BadInputError("multipart/form-data without a valid boundary");
    return { kind: "multipart", boundary };
  }
  throw new UnsupportedMediaTypeError(
    `Content-Type ${type} not accepted: send PNG or JPEG bytes (image/png, image/jpeg, application/octet-stream) or multipart/form-data`,
  );
}

/** Refuse a declared oversize body before reading a byte of it. */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    throw new TooLargeError(`body of ${declared} bytes exceeds the limit of ${limit}`);
  }
}

/** How fast a body must arrive: a trickle is cut off instead of holding the request open. */
export interface BodyRate {
  /** the body may start slowly for this long */
  graceMs: number;
  /** after the grace: on average at least this many bytes per second since the first byte was due */
  minBytesPerSecond: number;
}

export function readBody(
  req: IncomingMessage,
  limit: number,
  rate: BodyRate,
  hold: BytesHold,
): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const started = performance.now();
    const check = setInterval(() => {
      const late = performance.now() - started - rate.graceMs;
      if (late > 0 && size < (late / 1000) * rate.minBytesPerSecond) {
        finish(
          new RequestTimeoutError(
            `request body arrives too slowly: ${size} bytes in ${Math.round(performance.now() - started)} ms, below ${rate.minBytesPerSecond} bytes/s after ${rate.graceMs} ms`,
          ),
        );
      }
    }, 100);
    const finish = (err: Error | null, body?: Buffer) => {
      if (done) return;
      done = true;
      clearInterval(check);
      req.off("data", onData);
      if (err) {
        // Stop buffering; the socket is closed after the error response (Connection: close).
        req.pause();
        reject(err);
      } else resolve(body as Buffer);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(new TooLargeError(`body exceeds the limit of ${limit} bytes`));
      else if (!hold.add(chunk.length)) {
        finish(new OverloadedError("server busy: the buffers for request bodies are full", 1));
      } else chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => finish(null, Buffer.concat(chunks, size)));
    req.once("error", (err) => finish(new BadInputError(`request body: ${err.message}`)));
    req.once("close", () => {
      if (!req.complete) finish(new BadInputError("request body ended before Content-Length was reached"));
    });
  });
}
