/**
 * publish and verify against a real S3-compatible server (moto on loopback). Each test gets
 * its own bucket and catalog, so tests do not see each other's objects.
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WmsError } from "../../generator/src/errors.ts";
import { readCard } from "../../generator/src/model-card.ts";
import { publishRelease } from "../../generator/src/publish.ts";
import { hashFile } from "../../generator/src/store/digest.ts";
import { getArtifact, type S3Options } from "../../generator/src/store/open-store.ts";
import { S3Store } from "../../generator/src/store/s3-store.ts";
import { verifyArtifacts } from "../../generator/src/verify.ts";
import { type S3Server, startS3Server, TEST_CREDENTIALS } from "../support/s3-server.ts";
import { listTree, tempDir, trainedModel } from "./helpers.ts";

let server: S3Server;
let s3: S3Options;
let client: S3Client;

beforeAll(async () => {
  server = await startS3Server();
  s3 = { endpoint: server.endpoint, region: "us-east-1", credentials: TEST_CREDENTIALS };
  client = new S3Client({ ...s3, forcePathStyle: true });
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

let buckets = 0;
async function newBucket(): Promise<string> {
  const bucket = `models-${process.pid}-${++buckets}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

async function objectBytes(bucket: string, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

async function setup() {
  const bucket = await newBucket();
  const work = await tempDir("s3");
  const releasesDir = join(work, "releases");
  const trained = await trainedModel(join(work, "run-1"));
  return { bucket, work, releasesDir, trained, storeUri: `s3://${bucket}/releases` };
}

describe("publish to s3://", () => {
  it("uploads with checksum and metadata, writes the catalog card, and verifies", async () => {
    const { bucket, releasesDir, trained, storeUri } = await setup();
    const result = await publishRelease({ ...trained, storeUri, releasesDir, s3 });

    expect(result.status).toBe("published");
    expect(result.cardPath).toBe(join(releasesDir, "wms/1.0.0/model-card.json"));
    const key = "releases/wms/1.0.0/model.onnx";
    const written = readCard(result.cardPath);
    expect(written.artifact).toMatchObject({
      uri: `s3://${bucket}/${key}`,
      sha256: trained.card.artifact.sha256,
      bytes: trained.content.length,
    });
    // Everything but the artifact location is training's card, untouched.
    expect({ ...written, artifact: undefined }).toEqual({ ...trained.card, artifact: undefined });

    expect(await objectBytes(bucket, key)).toEqual(trained.content);
    const head = await client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }),
    );
    expect(Buffer.from(head.ChecksumSHA256 ?? "", "base64").toString("hex")).toBe(
      trained.card.artifact.sha256,
    );
    expect(head.Metadata?.sha256).toBe(trained.card.artifact.sha256);

    expect(await verifyArtifacts([{ card: written, file: result.cardPath }], { s3 })).toEqual([]);
    expect(await verifyArtifacts([{ card: written, file: result.cardPath }], { s3, deep: true })).toEqual([]);
  });

  it("is a no-op when the same bytes are published again", async () => {
    const { releasesDir, trained, storeUri } = await setup();
    const first = await publishRelease({ ...trained, storeUri, releasesDir, s3 });
    const cardText = await readFile(first.cardPath, "utf8");
    const tree = await listTree(releasesDir);

    const again = await publishRelease({ ...trained, storeUri, releasesDir, s3 });
    expect(again.status).toBe("already-published");
    expect(await readFile(first.cardPath, "utf8")).toBe(cardText);
    expect(await listTree(releasesDir)).toEqual(tree);
  });

  it("refuses different bytes for a version whose object exists, even from a fresh catalog", async () => {
    const { bucket, work, releasesDir, trained, storeUri } = await setup();
    await publishRelease({ ...trained, storeUri, releasesDir, s3 });

    // Another checkout, another training run, same version number.
    const other = await trainedModel(join(work, "run-2"));
    const otherCatalog = join(work, "other-releases");
    const err = await publishRelease({ ...other, storeUri, releasesDir: otherCatalog, s3 }).catch((e) => e);
    expect(err).toBeInstanceOf(WmsError);
    expect(err.kind).toBe("store");
    expect(err.message).toMatch(/refusing to overwrite s3:\/\/.*\/wms\/1\.0\.0\/model\.onnx/);
    expect(await objectBytes(bucket, "releases/wms/1.0.0/model.onnx")).toEqual(trained.content);
    expect(await listTree(otherCatalog)).toEqual([]);
  });

  it("refuses a version whose catalog card pins another sha256, before uploading anything", async () => {
    const { work, releasesDir, trained, storeUri } = await setup();
    await publishRelease({ ...trained, storeUri, releasesDir, s3 });
    const tree = await listTree(releasesDir);

    // Same catalog, a store that does not have the object yet: only the card can say no.
    const emptyBucket = await newBucket();
    const other = await trainedModel(join(work, "run-2"));
    const err = await publishRelease({ ...other, storeUri: `s3://${emptyBucket}`, releasesDir, s3 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(WmsError);
    expect(err.problems[0]).toMatchObject({ field: "artifact.sha256" });
    expect(err.message).toMatch(/already published/);
    expect(await listTree(releasesDir)).toEqual(tree);
    const store = new S3Store(s3);
    expect(await store.inspect(`s3://${emptyBucket}/wms/1.0.0/model.onnx`)).toBeUndefined();
    store.close();
  });

  it("keeps a local copy beside the card when asked", async () => {
    const { releasesDir, trained, storeUri } = await setup();
    await publishRelease({ ...trained, storeUri, releasesDir, s3, keepLocal: true });
    expect(await readFile(join(releasesDir, "wms/1.0.0/model.onnx"))).toEqual(trained.content);
  });

  it("leaves the catalog untouched when the upload fails", async () => {
    const { releasesDir, trained } = await setup();
    const err = await publishRelease({
      ...trained,
      storeUri: "s3://no-such-bucket-here/releases",
      releasesDir,
      s3,
      keepLocal: true,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(WmsError);
    expect(err.problems[0].hint).toMatch(/bucket does not exist/);
    expect(await listTree(releasesDir)).toEqual([]);
  });

  it("lets exactly one of several racing publishers create a version", async () => {
    const bucket = await newBucket();
    const work = await tempDir("race");
    const uri = `s3://${bucket}/wms/1.0.0/model.onnx`;
    // Separate stores, like separate machines; all look (HEAD) before any of them writes.
    const racers = await Promise.all(
      [1, 2, 3, 4].map(async (i) => {
        const { modelPath } = await trainedModel(join(work, `run-${i}`));
        return { store: new S3Store(s3), modelPath, digest: await hashFile(modelPath) };
      }),
    );
    const results = await Promise.allSettled(racers.map((r) => r.store.putOnce(uri, r.modelPath, r.digest)));
    for (const r of racers) r.store.close();

    const created = results.filter((r) => r.status === "fulfilled");
    expect(created).toHaveLength(1);
    for (const r of results.filter((r) => r.status === "rejected")) {
      expect(String((r as PromiseRejectedResult).reason)).toMatch(/refusing to overwrite/);
    }
    const winner = racers[results.indexOf(created[0] as (typeof results)[number])];
    expect(await objectBytes(bucket, "wms/1.0.0/model.onnx")).toEqual(
      await readFile(winner?.modelPath ?? ""),
    );
  });

  it("still publishes when the server does not support conditional writes", async () => {
    const { bucket, releasesDir, trained, storeUri } = await setup();
    // Stand-in for a server without If-None-Match: answer such a request like one would (501).
    const silent = { debug() {}, info() {}, warn() {}, error() {} };
    const noConditional = new S3Client({ ...s3, forcePathStyle: true, logger: silent });
    let refused = 0;
    noConditional.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
        if (headers["if-none-match"]) {
          refused++;
          throw Object.assign(new Error("If-None-Match is not implemented"), {
            name: "NotImplemented",
            $metadata: { httpStatusCode: 501 },
          });
        }
        return next(args);
      },
      { step: "finalizeRequest", name: "noConditionalWrites" },
    );
    const result = await publishRelease({ ...trained, storeUri, releasesDir, s3: { client: noConditional } });
    noConditional.destroy();
    expect(refused).toBe(1);
    expect(result.status).toBe("published");
    expect(await objectBytes(bucket, "releases/wms/1.0.0/model.onnx")).toEqual(trained.content);
  });

  it("downloads a published model with its digest checked", async () => {
    const { work, releasesDir, trained, storeUri } = await setup();
    const { card } = await publishRelease({ ...trained, storeUri, releasesDir, s3 });
    const dest = join(work, "cache/model.onnx");
    expect(await getArtifact(card.artifact.uri, dest, { s3, expected: card.artifact })).toEqual({
      sha256: card.artifact.sha256,
      bytes: card.artifact.bytes,
    });
    expect(await readFile(dest)).toEqual(trained.content);
    await expect(
      getArtifact(card.artifact.uri, dest, { s3, expected: { sha256: "0".repeat(64) } }),
    ).rejects.toThrow(/content does not match/);
  });
});

describe("publish and verify an int8 variant (s3://)", () => {
  it("uploads both files, the catalog card pins both, and verify checks both", async () => {
    const { bucket, work, releasesDir, storeUri } = await setup();
    const trained = await trainedModel(join(work, "q"), { int8: randomBytes(1024) });
    const result = await publishRelease({ ...trained, storeUri, releasesDir, s3 });
    const written = readCard(result.cardPath);
    expect(written.variants?.int8).toMatchObject({
      uri: `s3://${bucket}/releases/wms/1.0.0/model.int8.onnx`,
      sha256: trained.card.variants?.int8?.sha256,
      bytes: 1024,
      precision: "int8",
    });
    expect(await objectBytes(bucket, "releases/wms/1.0.0/model.int8.onnx")).toEqual(
      await readFile(trained.int8Path as string),
    );
    const ref = { card: written, file: result.cardPath };
    expect(await verifyArtifacts([ref], { s3, deep: true })).toEqual([]);

    // the int8 object replaced behind publish's back: verify names the variant's field
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "releases/wms/1.0.0/model.int8.onnx",
        Body: randomBytes(1024),
      }),
    );
    const problems = await verifyArtifacts([ref], { s3 });
    expect(problems.map((p) => [p.file, p.field])).toEqual([[result.cardPath, "variants.int8.sha256"]]);
    expect(problems[0]?.message).toMatch(/wms 1\.0\.0 \(int8\): .*model\.int8\.onnx has sha256/);
  });

  it("refuses --int8 with a card that lists no int8 variant", async () => {
    const { work, releasesDir, storeUri } = await setup();
    const trained = await trainedModel(join(work, "q"));
    const int8Path = join(work, "model.int8.onnx");
    await writeFile(int8Path, randomBytes(1024));
    const err = await publishRelease({ ...trained, int8Path, storeUri, releasesDir, s3 }).catch((e) => e);
    expect((err as WmsError).problems.map((p) => [p.field, p.message])).toEqual([
      ["variants.int8", `--int8 ${int8Path} given, but the card lists no int8 variant`],
    ]);
    expect(await listTree(releasesDir)).toEqual([]);
  });

  it("refuses a card whose int8 variant does not describe the int8 file, before uploading anything", async () => {
    const { bucket, work, releasesDir, storeUri } = await setup();
    const trained = await trainedModel(join(work, "q"), { int8: randomBytes(1024) });
    const other = join(work, "other.int8.onnx");
    await writeFile(other, randomBytes(1024));
    const err = await publishRelease({ ...trained, int8Path: other, storeUri, releasesDir, s3 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(WmsError);
    expect((err as WmsError).problems.map((p) => p.field)).toEqual(["variants.int8.sha256"]);
    expect(await listTree(releasesDir)).toEqual([]);
    await expect(
      client.send(new HeadObjectCommand({ Bucket: bucket, Key: "releases/wms/1.0.0/model.onnx" })),
    ).rejects.toThrow();
  });

  it("adds an int8 variant to a version published without one, and refuses a different one later", async () => {
    const { bucket, work, releasesDir, storeUri } = await setup();
    const content = randomBytes(4096);
    const fp32Only = await trainedModel(join(work, "a"), { content });
    await publishRelease({ ...fp32Only, storeUri, releasesDir, s3 });
    const quantized = await trainedModel(join(work, "b"), { content, int8: randomBytes(1024) });
    // the quantize step's card differs elsewhere too: only the variant may reach the catalog
    const later = { ...quantized.card, createdAt: "2026-12-01T00:00:00Z" };
    await writeFile(quantized.cardPath, JSON.stringify(later));
    const added = await publishRelease({ ...quantized, storeUri, releasesDir, s3 });
    expect(added.status).toBe("published");
    const card = readCard(added.cardPath);
    expect(card.variants?.int8?.sha256).toBe(quantized.card.variants?.int8?.sha256);
    expect(card.createdAt).toBe(fp32Only.card.createdAt);
    expect(await objectBytes(bucket, "releases/wms/1.0.0/model.int8.onnx")).toEqual(
      await readFile(quantized.int8Path as string),
    );
    // the same again: nothing to add, nothing uploaded
    expect((await publishRelease({ ...quantized, storeUri, releasesDir, s3 })).status).toBe(
      "already-published",
    );

    const requantized = await trainedModel(join(work, "c"), { content, int8: randomBytes(1024) });
    const err = await publishRelease({ ...requantized, storeUri, releasesDir, s3 }).catch((e) => e);
    expect((err as WmsError).problems.map((p) => p.field)).toEqual(["variants.int8.sha256"]);
    expect(readCard(added.cardPath)).toEqual(card);
  });
});

describe("verify against s3://", () => {
  it("reports every missing or altered object, naming the card file and field", async () => {
    const { bucket, work, releasesDir, storeUri } = await setup();
    const published = [];
    for (const version of ["1.0.0", "1.1.0", "1.2.0"]) {
      const trained = await trainedModel(join(work, version), { version });
      published.push(await publishRelease({ ...trained, storeUri, releasesDir, s3 }));
    }
    const [same, longer, ok] = published.map((p) => ({ card: p.card, file: p.cardPath }));
    if (!same || !longer || !ok) throw new Error("setup");

    // Tamper behind publish's back, as anyone with bucket access could: same size, new bytes
    // (no checksum, no metadata, so verify must hash) and a longer object.
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: "releases/wms/1.0.0/model.onnx", Body: randomBytes(4096) }),
    );
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: "releases/wms/1.1.0/model.onnx", Body: randomBytes(5000) }),
    );
    const missing = {
      file: join(releasesDir, "wms/9.9.9/model-card.json"),
      card: {
        ...ok.card,
        version: "9.9.9",
        artifact: { ...ok.card.artifact, uri: `s3://${bucket}/releases/wms/9.9.9/model.onnx` },
      },
    };

    const problems = await verifyArtifacts([same, longer, ok, missing], { s3 });
    expect(problems.map((p) => [p.file, p.field])).toEqual([
      [same.file, "artifact.sha256"],
      [longer.file, "artifact.bytes"],
      [longer.file, "artifact.sha256"],
      [missing.file, "artifact.uri"],
    ]);
    expect(problems[0]?.message).toContain(same.card.artifact.sha256);
    expect(problems[3]?.message).toMatch(/no object at s3:\/\/.*9\.9\.9/);
  });

  it("never trusts the sha256 metadata alone: replaced bytes claiming the old digest fail, deep or not", async () => {
    const { bucket, releasesDir, trained, storeUri } = await setup();
    const { card, cardPath } = await publishRelease({ ...trained, storeUri, releasesDir, s3 });
    // Replaced bytes, no S3 checksum, the old digest copied into metadata (issue 14): only the
    // S3 checksum or hashing can tell, and without a checksum verify hashes.
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "releases/wms/1.0.0/model.onnx",
        Body: randomBytes(trained.content.length),
        Metadata: { sha256: card.artifact.sha256 },
      }),
    );
    for (const deep of [false, true]) {
      const problems = await verifyArtifacts([{ card, file: cardPath }], { s3, deep });
      expect(
        problems.map((p) => p.field),
        `deep: ${deep}`,
      ).toEqual(["artifact.sha256"]);
    }
  });
});
