/**
 * The model store on S3 (or any S3-compatible server). Uploads carry the sha256 as an S3
 * checksum, so S3 itself rejects bytes that do not match on arrival, and as object metadata,
 * so the digest can be read back without downloading. Writes are conditional (If-None-Match)
 * so two publishers cannot both create the same version.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import {
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { storeError, type WmsError } from "../errors.ts";
import { writeAtomically } from "./atomic-file.ts";
import { base64ToHex, type Digest, hashStream, hexToBase64 } from "./digest.ts";
import type { InspectOptions, ModelStore, StoredObject } from "./model-store.ts";
import { acceptExisting } from "./never-overwrite.ts";
import { parseStoreUri } from "./uri.ts";

export interface S3Options {
  /** e.g. http://127.0.0.1:9000; default: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then AWS. */
  endpoint?: string;
  /** Default: AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1. */
  region?: string;
  /** Default: the SDK's credential chain (env, profile, IRSA/web identity, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Default: true when an endpoint is set (S3-compatible servers rarely do virtual hosts). */
  forcePathStyle?: boolean;
  /** Use this client as is (the store will not destroy it on close). */
  client?: S3Client;
}

/** Object metadata key holding the hex sha256 (sent as `x-amz-meta-sha256`). */
export const SHA256_METADATA_KEY = "sha256";

export function s3ClientConfig(opts: S3Options = {}, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = opts.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
  const config: S3ClientConfig = {
    region: opts.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1"),
    forcePathStyle: opts.forcePathStyle ?? endpoint !== undefined,
    // Cards from several environments may name buckets in other regions than the default.
    followRegionRedirects: true,
  };
  if (endpoint) config.endpoint = endpoint;
  if (opts.credentials) config.credentials = opts.credentials;
  return config;
}

function locate(uri: string) {
  const loc = parseStoreUri(uri, "artifact.uri");
  if (loc.scheme !== "s3") throw new Error(`S3Store given a ${loc.scheme} URI: ${uri}`);
  if (!loc.key)
    throw storeError([{ field: "artifact.uri", message: `${uri} names a bucket, not an object` }]);
  return { Bucket: loc.bucket, Key: loc.key };
}

export class S3Store implements ModelStore {
  private readonly client: S3Client;
  private readonly owned: boolean;

  constructor(opts: S3Options = {}) {
    this.owned = !opts.client;
    this.client = opts.client ?? new S3Client({ ...s3ClientConfig(opts), logger: quietLogger });
  }

  async inspect(uri: string, opts: InspectOptions = {}): Promise<StoredObject | undefined> {
    const where = locate(uri);
    let head: HeadObjectCommandOutput;
    try {
      head = await this.client.send(new HeadObjectCommand({ ...where, ChecksumMode: "ENABLED" }));
    } catch (e) {
      // A HEAD has no body, so a missing bucket and a missing key both arrive as a bare 404.
      if (httpStatus(e) === 404) return undefined;
      throw s3Failure("inspect", uri, e);
    }
    const bytes = head.ContentLength ?? 0;
    // A multipart upload's checksum is a checksum of part checksums ("…-N"), not of the bytes.
    const checksum =
      head.ChecksumSHA256 &&
      !head.ChecksumSHA256.includes("-") &&
      (head.ChecksumType ?? "FULL_OBJECT") === "FULL_OBJECT"
        ? base64ToHex(head.ChecksumSHA256)
        : undefined;
    const claimed = head.Metadata?.[SHA256_METADATA_KEY];
    const metadata = claimed && /^[0-9a-f]{64}$/.test(claimed) ? claimed : undefined;

    // Metadata is a claim anyone who can write the object can copy onto other bytes: without the
    // server's own checksum the content is hashed, never the claim trusted.
    if (opts.deep || !checksum) {
      const hashed = await this.hash(uri);
      if (metadata && metadata !== hashed.sha256) {
        throw storeError([
          {
            field: "artifact.sha256",
            message: `${uri} is inconsistent: its content is sha256 ${hashed.sha256}, its metadata says ${metadata}`,
            hint: "the object was changed outside publish; investigate before trusting it",
          },
        ]);
      }
      return { uri, source: "content", ...hashed };
    }
    if (checksum && metadata && checksum !== metadata) {
      throw storeError([
        {
          field: "artifact.sha256",
          message: `${uri} is inconsistent: its S3 checksum is sha256 ${checksum}, its metadata says ${metadata}`,
          hint: "the object was changed outside publish; investigate before trusting it",
        },
      ]);
    }
    return { uri, bytes, sha256: checksum, source: "checksum" };
  }

  async putOnce(uri: string, localPath: string, digest: Digest): Promise<"created" | "identical"> {
    const existing = await this.inspect(uri);
    if (existing) return acceptExisting(uri, existing, digest);
    try {
      await this.upload(uri, localPath, digest, true);
      return "created";
    } catch (e) {
      if (isPreconditionFailure(e)) {
        // Another publisher created it between our HEAD and our PUT: same rule as above.
        const raced = await this.inspect(uri);
        if (!raced)
          throw storeError([{ message: `${uri} appeared and vanished while publishing; try again` }]);
        return acceptExisting(uri, raced, digest);
      }
      if (!isConditionalWriteUnsupported(e)) throw s3Failure("upload", uri, e);
    }
    // The server cannot do conditional writes (older S3-compatible servers): the HEAD above is
    // all the protection left, which only a publisher racing in the same second gets around.
    try {
      await this.upload(uri, localPath, digest, false);
      return "created";
    } catch (e) {
      throw s3Failure("upload", uri, e);
    }
  }

  async get(uri: string, destPath: string, expected?: Partial<Digest>): Promise<Digest> {
    const body = await this.open(uri);
    return (await writeAtomically(destPath, body, { expected })).digest;
  }

  close() {
    if (this.owned) this.client.destroy();
  }

  private upload(uri: string, localPath: string, digest: Digest, conditional: boolean) {
    return this.client.send(
      new PutObjectCommand({
        ...locate(uri),
        Body: createReadStream(localPath),
        ContentLength: digest.bytes,
        ContentType: "application/octet-stream",
        // S3 checks the arriving bytes against this value and rejects the PUT (BadDigest) if they
        // differ. Given precomputed, it goes as a header rather than a streamed trailer; naming
        // the algorithm as well is what some S3-compatible servers (moto) need to keep it.
        ChecksumAlgorithm: "SHA256",
        ChecksumSHA256: hexToBase64(digest.sha256),
        Metadata: { [SHA256_METADATA_KEY]: digest.sha256 },
        ...(conditional ? { IfNoneMatch: "*" } : {}),
      }),
    );
  }

  private async open(uri: string): Promise<Readable> {
    try {
      const out = await this.client.send(new GetObjectCommand(locate(uri)));
      if (!(out.Body instanceof Readable)) throw new Error("S3 response body is not a Node stream");
      return out.Body;
    } catch (e) {
      if (httpStatus(e) === 404 && errorName(e) !== "NoSuchBucket") {
        throw storeError([{ field: "artifact.uri", message: `no object at ${uri}` }]);
      }
      throw s3Failure("download", uri, e);
    }
  }

  private async hash(uri: string): Promise<Digest> {
    return hashStream(await this.open(uri));
  }
}

/**
 * With no logger the SDK warns on the console whenever a request with a streamed body fails,
 * which includes the expected 412 of a conditional write; with one, it also logs every failed
 * command (an expected 404 HEAD included) at error level. Every failure here becomes a WmsError
 * with its own message, so only the SDK's other warnings are let through.
 */
const quietLogger = {
  trace() {},
  debug() {},
  info() {},
  warn(...args: unknown[]) {
    if (!String(args[0]).includes("non-retryable streaming request")) console.warn(...args);
  },
  error() {},
};

const httpStatus = (e: unknown): number | undefined =>
  (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
const errorName = (e: unknown): string => (e as { name?: string })?.name ?? "";

function isPreconditionFailure(e: unknown): boolean {
  // 409 ConditionalRequestConflict: S3 saw a concurrent write to the same key.
  return (
    httpStatus(e) === 412 ||
    errorName(e) === "PreconditionFailed" ||
    errorName(e) === "ConditionalRequestConflict"
  );
}

function isConditionalWriteUnsupported(e: unknown): boolean {
  return httpStatus(e) === 501 || errorName(e) === "NotImplemented";
}

function networkCode(e: unknown): string | undefined {
  const err = e as { code?: string; errors?: { code?: string }[] };
  return err?.code ?? err?.errors?.[0]?.code;
}

const CREDENTIAL_ERRORS = [
  "AccessDenied",
  "Forbidden",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "CredentialsProviderError",
];

/** One place that turns SDK errors into messages a person can act on. */
export function s3Failure(action: string, uri: string, e: unknown): WmsError {
  const name = errorName(e);
  const detail = `${name || "Error"}: ${(e as Error)?.message ?? String(e)}`;
  const net = networkCode(e);
  let hint: string | undefined;
  if (net === "ECONNREFUSED" || net === "ENOTFOUND" || net === "ETIMEDOUT" || name === "TimeoutError") {
    hint = "cannot reach the S3 endpoint; check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and the network";
  } else if (name === "NoSuchBucket") {
    hint = "the bucket does not exist: check the store URI, or create it (terraform/ owns the real one)";
  } else if (httpStatus(e) === 403 || CREDENTIAL_ERRORS.includes(name)) {
    // Without s3:ListBucket, S3 answers 403 rather than 404 for a key that does not exist.
    hint =
      "check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, or the role) and their access to this bucket; " +
      "without s3:ListBucket a missing object also looks like this";
  } else if (name === "BadDigest" || name === "InvalidDigest" || name === "XAmzContentSHA256Mismatch") {
    hint =
      "the bytes S3 received do not match the sha256 computed before upload; did model.onnx change meanwhile?";
  }
  return storeError([{ field: "artifact.uri", message: `${action} ${uri} failed: ${detail}`, hint }]);
}
