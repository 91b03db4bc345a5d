/**
 * publish: put a trained model into the store and its card into the release catalog
 * (model/releases/<name>/<version>/model-card.json). The order is the safety:
 * every check first, then the upload, then the catalog, so a failure at any step leaves the
 * catalog as it was, and running publish again finishes a half-done publish.
 */
import { createReadStream } from "node:fs";
import { mkdir, rm, rmdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { inputError, type Problem, storeError } from "./errors.ts";
import { cardProblems, type ModelCard, parseCard } from "./model-card.ts";
import { readInputFile } from "./repo-file.ts";
import { exists, writeAtomically } from "./store/atomic-file.ts";
import { type Digest, describeDigest, hashFile } from "./store/digest.ts";
import { openStore, type S3Options } from "./store/model-store.ts";
import { acceptExisting } from "./store/never-overwrite.ts";
import { releaseObjectUri } from "./store/uri.ts";

export interface PublishOptions {
  /** The model.onnx training wrote. */
  modelPath: string;
  /** The model-card.json training wrote beside it (its artifact fields describe that file). */
  cardPath: string;
  /** Store root: s3://bucket/prefix, file:///dir, or a plain directory path. */
  storeUri: string;
  /** The catalog root, normally model/releases. */
  releasesDir: string;
  /** Also keep model.onnx beside the card, for versions the repo ships for local use. */
  keepLocal?: boolean;
  s3?: S3Options;
}

export interface PublishResult {
  /** The catalog card (the existing one when the version was already published). */
  card: ModelCard;
  cardPath: string;
  status: "published" | "already-published";
}

export const releaseCardPath = (releasesDir: string, name: string, version: string) =>
  join(releasesDir, name, version, "model-card.json");

export async function publishRelease(opts: PublishOptions): Promise<PublishResult> {
  const card = parseCard(readInputFile(opts.cardPath, { what: "card" }), opts.cardPath);
  const digest = await hashInput(opts.modelPath);
  checkCardDescribesModel(card, digest, opts);

  const objectUri = releaseObjectUri(opts.storeUri, card.name, card.version);
  const cardPath = releaseCardPath(opts.releasesDir, card.name, card.version);
  const release: ModelCard = { ...card, artifact: { ...card.artifact, uri: objectUri, ...digest } };
  const problems = cardProblems(release, cardPath);
  if (problems.length)
    throw inputError(problems, `the release card for ${card.name} ${card.version} would be invalid`);

  const existing = await readExistingCard(cardPath, opts.releasesDir);
  if (existing) checkSameRelease(existing, release, cardPath);
  const localModel = join(opts.releasesDir, card.name, card.version, "model.onnx");
  const hasLocalCopy = opts.keepLocal ? await checkLocalCopy(localModel, digest) : false;

  const store = openStore(objectUri, { s3: opts.s3 });
  let stored: "created" | "identical";
  try {
    stored = await store.putOnce(objectUri, opts.modelPath, digest);
  } finally {
    store.close();
  }

  if (existing && (!opts.keepLocal || hasLocalCopy)) {
    return { card: existing, cardPath, status: stored === "identical" ? "already-published" : "published" };
  }
  await writeCatalog({
    cardPath,
    release,
    existing,
    localModel: opts.keepLocal && !hasLocalCopy ? localModel : undefined,
    opts,
    digest,
  });
  return { card: existing ?? release, cardPath, status: "published" };
}

/** Catalog writes: the local model copy first, the card last (the card is what makes it a release). */
async function writeCatalog(w: {
  cardPath: string;
  release: ModelCard;
  existing: ModelCard | undefined;
  localModel: string | undefined;
  opts: PublishOptions;
  digest: Digest;
}) {
  const dir = resolve(w.opts.releasesDir, w.release.name, w.release.version);
  // mkdir returns the first directory it had to create: what to remove again on failure.
  const createdDir = await mkdir(dir, { recursive: true });
  let createdModel = false;
  try {
    if (w.localModel) {
      const copy = await writeAtomically(w.localModel, createReadStream(w.opts.modelPath), {
        expected: w.digest,
        exclusive: true,
      });
      createdModel = copy.created;
      if (!copy.created) await checkLocalCopy(w.localModel, w.digest);
    }
    if (!w.existing) {
      const json = `${JSON.stringify(w.release, null, 2)}\n`;
      const written = await writeAtomically(w.cardPath, json, { exclusive: true });
      // Another publish wrote the card since we looked: fine only if it is the same release.
      if (!written.created)
        checkSameRelease(readCatalogCard(w.cardPath, w.opts.releasesDir), w.release, w.cardPath);
    }
  } catch (e) {
    if (createdModel && w.localModel) await rm(w.localModel, { force: true });
    if (createdDir) await removeEmptyDirs(dir, createdDir);
    throw e;
  }
}

/** Remove `dir` and its parents up to and including `top`, stopping at the first non-empty one. */
async function removeEmptyDirs(dir: string, top: string) {
  for (let d = dir; d.startsWith(top); d = join(d, "..")) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
    if (d === top) return;
  }
}

async function hashInput(path: string): Promise<Digest> {
  try {
    return await hashFile(path);
  } catch (e) {
    throw inputError([
      { file: path, message: `cannot read the model: ${(e as NodeJS.ErrnoException).code ?? e}` },
    ]);
  }
}

/**
 * Training records the digest of the model.onnx it wrote; a different file here means the model
 * and the card were mixed up (another run, a re-export), and publishing would pin the wrong card.
 */
function checkCardDescribesModel(card: ModelCard, digest: Digest, opts: PublishOptions) {
  const problems: Problem[] = [];
  if (card.artifact.sha256 !== digest.sha256) {
    problems.push({
      file: opts.cardPath,
      field: "artifact.sha256",
      message: `the card describes a model with sha256 ${card.artifact.sha256}, but ${opts.modelPath} has sha256 ${digest.sha256}`,
      hint: "publish the model.onnx that was exported with this card",
    });
  }
  if (card.artifact.bytes !== digest.bytes) {
    problems.push({
      file: opts.cardPath,
      field: "artifact.bytes",
      message: `the card describes a model of ${card.artifact.bytes} bytes, but ${opts.modelPath} has ${digest.bytes}`,
      hint: "publish the model.onnx that was exported with this card",
    });
  }
  if (problems.length) throw inputError(problems, "the card and the model do not belong together");
}

async function readExistingCard(cardPath: string, releasesDir: string): Promise<ModelCard | undefined> {
  return (await exists(cardPath)) ? readCatalogCard(cardPath, releasesDir) : undefined;
}

/** A card in the catalog: a regular file inside it, reached through no link (repo-file.ts). */
const readCatalogCard = (cardPath: string, releasesDir: string): ModelCard =>
  parseCard(readInputFile(cardPath, { root: releasesDir, shown: cardPath, what: "card" }), cardPath);

/** A version's catalog card is never replaced; the same model at the same URI is a re-run. */
function checkSameRelease(existing: ModelCard, release: ModelCard, cardPath: string) {
  const { name, version } = release;
  if (
    existing.artifact.sha256 !== release.artifact.sha256 ||
    existing.artifact.bytes !== release.artifact.bytes
  ) {
    throw storeError([
      {
        file: cardPath,
        field: "artifact.sha256",
        message: `${name} ${version} is already published with ${describeDigest(existing.artifact)}; this model has ${describeDigest(release.artifact)}`,
        hint: "published versions are never overwritten; give the card a new version and publish that",
      },
    ]);
  }
  if (existing.artifact.uri !== release.artifact.uri) {
    throw storeError([
      {
        file: cardPath,
        field: "artifact.uri",
        message: `${name} ${version} is already published at ${existing.artifact.uri}, not ${release.artifact.uri}`,
        hint: "publish to the store the catalog names (--store), or verify that store instead",
      },
    ]);
  }
}

/** true when a copy with these bytes is already there; throws when different bytes are. */
async function checkLocalCopy(path: string, digest: Digest): Promise<boolean> {
  if (!(await exists(path))) return false;
  acceptExisting(path, await hashFile(path), digest);
  return true;
}
