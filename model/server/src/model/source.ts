/**
 * Where model bytes come from: a local path, a file:// URI or an s3:// URI. Only the URIs
 * given at start-up are ever read; nothing here is reachable from a request.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { errorMessage, ModelLoadError } from "../errors.ts";

export type ArtifactLocation = { kind: "file"; path: string } | { kind: "s3"; bucket: string; key: string };

export function parseLocation(uri: string): ArtifactLocation {
  if (uri.startsWith("s3://")) {
    const rest = uri.slice("s3://".length);
    const slash = rest.indexOf("/");
    if (slash <= 0 || slash === rest.length - 1) {
      throw new ModelLoadError(`${uri}: expected s3://<bucket>/<key>`);
    }
    return { kind: "s3", bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
  }
  if (uri.startsWith("file://")) return { kind: "file", path: fileURLToPath(uri) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new ModelLoadError(`${uri}: unsupported scheme (use a path, file:// or s3://)`);
  }
  return { kind: "file", path: resolve(uri) };
}

export function formatLocation(loc: ArtifactLocation): string {
  return loc.kind === "s3" ? `s3://${loc.bucket}/${loc.key}` : loc.path;
}

/** The card published beside the model: same folder, `model-card.json`. */
export function siblingCard(loc: ArtifactLocation): ArtifactLocation {
  if (loc.kind === "file") return { kind: "file", path: join(dirname(loc.path), "model-card.json") };
  const slash = loc.key.lastIndexOf("/");
  return {
    kind: "s3",
    bucket: loc.bucket,
    key: `${slash >= 0 ? loc.key.slice(0, slash + 1) : ""}model-card.json`,
  };
}

let s3: S3Client | undefined;

/**
 * Local S3 servers (moto, MinIO) are reached through the standard endpoint variables; the SDK
 * is given them explicitly, with path-style addressing, which such servers need.
 */
function s3Client(): S3Client {
  if (!s3) {
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
    s3 = new S3Client({
      region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1",
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    });
  }
  return s3;
}

export async function readArtifact(loc: ArtifactLocation): Promise<Buffer> {
  try {
    if (loc.kind === "file") return await readFile(loc.path);
    const res = await s3Client().send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    if (!res.Body) throw new Error("empty response body");
    return Buffer.from(await res.Body.transformToByteArray());
  } catch (err) {
    throw new ModelLoadError(`${formatLocation(loc)}: cannot read (${errorMessage(err)})`, { cause: err });
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
