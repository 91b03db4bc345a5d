/**
 * Where model bytes come from: a local path, a file:// URI or an s3:// URI, and whether they
 * are what the card beside them says (readVerified). Only the URIs given at start-up are ever
 * read; nothing here is reachable from a request.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { artifactWithDigest, type CardArtifact, cardArtifacts } from "../../../model-card.ts";
import { errorMessage, ModelLoadError } from "../errors.ts";
import { type InferenceSpec, inferenceSpec, type ModelCard, parseCard } from "./card.ts";

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

const SHA256 = /^[0-9a-f]{64}$/;

/** A model file read and checked against its card. */
export interface VerifiedModel {
  card: ModelCard;
  spec: InferenceSpec;
  /** the file's bytes: what was verified is what the sessions are built from */
  bytes: Buffer;
  sha256: string;
  /** which of the card's artifacts the file is */
  served: CardArtifact;
  /** the file's location, for messages */
  source: string;
}

/**
 * Read the card (by default model-card.json beside the model) and the model file, and verify
 * that the file is one of the card's artifacts: the pinned one when `sha256` is given (which
 * the card must list), else whichever the digest names; its size must be the card's too.
 */
export async function readVerified(opts: {
  model: string;
  card?: string | undefined;
  sha256?: string | undefined;
}): Promise<VerifiedModel> {
  const modelLoc = parseLocation(opts.model);
  const cardLoc = opts.card ? parseLocation(opts.card) : siblingCard(modelLoc);
  const cardSource = formatLocation(cardLoc);
  const card = parseCard((await readArtifact(cardLoc)).toString("utf8"), cardSource);
  const spec = inferenceSpec(card);

  const pinned = opts.sha256?.toLowerCase();
  if (pinned !== undefined && !SHA256.test(pinned)) {
    throw new ModelLoadError(`--sha256 must be 64 hex digits, got "${opts.sha256}"`);
  }
  const listed = () =>
    cardArtifacts(card)
      .map((a) => `${a.field}.sha256 ${a.artifact.sha256} (${a.precision})`)
      .join(", ");
  const pinnedArtifact = pinned ? artifactWithDigest(card, pinned) : undefined;
  if (pinned && !pinnedArtifact) {
    throw new ModelLoadError(
      `${cardSource} lists ${listed()}, not the pinned ${pinned}: wrong card for this model`,
    );
  }

  const bytes = await readArtifact(modelLoc);
  const source = formatLocation(modelLoc);
  const actual = sha256Hex(bytes);
  // Without a pin, the file is whichever artifact of the card it is (fp32 or int8).
  const served = pinnedArtifact ?? artifactWithDigest(card, actual);
  if (!served || actual !== served.artifact.sha256) {
    throw new ModelLoadError(
      `${source}: sha256 ${actual} does not match ${pinned ? `the pinned ${pinned}` : `the card: it lists ${listed()}`}`,
    );
  }
  if (bytes.length !== served.artifact.bytes) {
    throw new ModelLoadError(
      `${source}: ${bytes.length} bytes, the card's ${served.field}.bytes says ${served.artifact.bytes}`,
    );
  }
  return { card, spec, bytes, sha256: actual, served, source };
}
