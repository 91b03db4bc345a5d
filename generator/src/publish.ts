/**
 * publish: put a trained model into the store and its card into the release catalog
 * (model/releases/<name>/<version>/model-card.json). The order is the safety:
 * every check first, then the upload, then the catalog, so a failure at any step leaves the
 * catalog as it was, and running publish again finishes a half-done publish.
 */
import { createReadStream } from "node:fs";
import { mkdir, rm, rmdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { inputError, type Problem, storeError } from "./errors.ts";
import {
  type Artifact,
  cardArtifacts,
  cardProblems,
  type ModelCard,
  type Precision,
  parseCard,
} from "./model-card.ts";
import { readInputFile } from "./repo-file.ts";
import { exists, writeAtomically } from "./store/atomic-file.ts";
import { type Digest, describeDigest, hashFile } from "./store/digest.ts";
import { acceptExisting } from "./store/never-overwrite.ts";
import { openStore, type S3Options } from "./store/open-store.ts";
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
  /** The int8 variant the card lists (variants.int8); default: model.int8.onnx beside modelPath. */
  int8Path?: string;
  /** Also keep the model files beside the card, for versions the repo ships for local use. */
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

/** One file of the release: the fp32 model, or a variant (int8) the card lists. */
interface ReleaseFile {
  precision: Precision;
  /** where the card describes it: artifact or variants.int8 */
  field: string;
  path: string;
  digest: Digest;
  objectUri: string;
  /** its copy beside the catalog card, for --keep-local */
  localPath: string;
}

/** The file name each precision is published under, in the store and beside the catalog card. */
const FILE_NAME: Record<Precision, string> = { fp32: "model.onnx", int8: "model.int8.onnx" };

export async function publishRelease(opts: PublishOptions): Promise<PublishResult> {
  const card = parseCard(readInputFile(opts.cardPath, { what: "card" }), opts.cardPath);
  if (opts.int8Path && !card.variants?.int8) {
    throw inputError([
      {
        file: opts.cardPath,
        field: "variants.int8",
        message: `--int8 ${opts.int8Path} given, but the card lists no int8 variant`,
        hint: "publish the card `python -m wms_training quantize --out … --card-out …` wrote, which describes that file",
      },
    ]);
  }
  const files: ReleaseFile[] = [];
  for (const a of cardArtifacts(card)) {
    const path =
      a.precision === "fp32"
        ? opts.modelPath
        : (opts.int8Path ?? join(dirname(opts.modelPath), FILE_NAME.int8));
    const digest = await hashInput(path, a.field);
    checkCardDescribesFile(a.field, a.artifact, path, digest, opts.cardPath);
    files.push({
      precision: a.precision,
      field: a.field,
      path,
      digest,
      objectUri: releaseObjectUri(opts.storeUri, card.name, card.version, FILE_NAME[a.precision]),
      localPath: join(opts.releasesDir, card.name, card.version, FILE_NAME[a.precision]),
    });
  }
  const cardPath = releaseCardPath(opts.releasesDir, card.name, card.version);
  const release = releaseCard(card, files);
  const problems = cardProblems(release, cardPath);
  if (problems.length)
    throw inputError(problems, `the release card for ${card.name} ${card.version} would be invalid`);

  const existing = await readExistingCard(cardPath, opts.releasesDir);
  // an existing release may gain a variant it lacks (int8 quantized later); nothing else changes
  const added = existing ? checkSameRelease(existing, release, cardPath) : [];
  const keep = opts.keepLocal ? files : [];
  const localCopies = new Map<string, boolean>();
  for (const f of keep) localCopies.set(f.localPath, await checkLocalCopy(f.localPath, f.digest));

  let stored: ("created" | "identical")[] = [];
  for (const f of files) {
    const store = openStore(f.objectUri, { s3: opts.s3 });
    try {
      stored = [...stored, await store.putOnce(f.objectUri, f.path, f.digest)];
    } finally {
      store.close();
    }
  }

  const missingCopies = keep.filter((f) => !localCopies.get(f.localPath));
  if (existing && !added.length && !missingCopies.length) {
    const identical = stored.every((s) => s === "identical");
    return { card: existing, cardPath, status: identical ? "already-published" : "published" };
  }
  const next = existing && added.length ? withVariants(existing, release, added) : undefined;
  await writeCatalog({
    cardPath,
    release: next ?? release,
    existing,
    replace: next !== undefined,
    copies: missingCopies,
    opts,
  });
  return { card: next ?? existing ?? release, cardPath, status: "published" };
}

/** The catalog card: each file at its object URI, with the digest measured here. */
function releaseCard(card: ModelCard, files: ReleaseFile[]): ModelCard {
  const at = (p: Precision) => files.find((f) => f.precision === p) as ReleaseFile;
  const fp32 = at("fp32");
  const release: ModelCard = { ...card, artifact: { ...card.artifact, uri: fp32.objectUri, ...fp32.digest } };
  const int8 = card.variants?.int8;
  if (int8) {
    const f = at("int8");
    release.variants = { ...card.variants, int8: { ...int8, uri: f.objectUri, ...f.digest } };
  }
  return release;
}

/** `existing` with the variants `release` adds to it. */
function withVariants(existing: ModelCard, release: ModelCard, added: Precision[]): ModelCard {
  const variants = { ...existing.variants };
  for (const p of added) if (p === "int8" && release.variants?.int8) variants.int8 = release.variants.int8;
  return { ...existing, variants };
}

/** Catalog writes: the local model copies first, the card last (the card is what makes it a release). */
async function writeCatalog(w: {
  cardPath: string;
  release: ModelCard;
  existing: ModelCard | undefined;
  /** the existing card gains a variant: replaced (atomically), not created */
  replace: boolean;
  copies: ReleaseFile[];
  opts: PublishOptions;
}) {
  const dir = resolve(w.opts.releasesDir, w.release.name, w.release.version);
  // mkdir returns the first directory it had to create: what to remove again on failure.
  const createdDir = await mkdir(dir, { recursive: true });
  const created: string[] = [];
  try {
    for (const f of w.copies) {
      const copy = await writeAtomically(f.localPath, createReadStream(f.path), {
        expected: f.digest,
        exclusive: true,
      });
      if (copy.created) created.push(f.localPath);
      else await checkLocalCopy(f.localPath, f.digest);
    }
    const json = `${JSON.stringify(w.release, null, 2)}\n`;
    if (w.replace) {
      await writeAtomically(w.cardPath, json);
    } else if (!w.existing) {
      const written = await writeAtomically(w.cardPath, json, { exclusive: true });
      // Another publish wrote the card since we looked: fine only if it is the same release,
      // files and all (a card without this one's variant would not be what we return).
      if (!written.created) {
        const added = checkSameRelease(
          readCatalogCard(w.cardPath, w.opts.releasesDir),
          w.release,
          w.cardPath,
        );
        if (added.length) {
          throw storeError([
            {
              file: w.cardPath,
              message: `another publish wrote ${w.release.name} ${w.release.version}'s card meanwhile, without its ${added.join(", ")} variant`,
              hint: "run the same publish again: it adds the variant to that card",
            },
          ]);
        }
      }
    }
  } catch (e) {
    for (const p of created) await rm(p, { force: true });
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

async function hashInput(path: string, field: string): Promise<Digest> {
  try {
    return await hashFile(path);
  } catch (e) {
    throw inputError([
      {
        file: path,
        field,
        message: `cannot read the model: ${(e as NodeJS.ErrnoException).code ?? e}`,
        ...(field === "variants.int8"
          ? {
              hint: "the card lists an int8 variant: pass its file with --int8 (default: model.int8.onnx beside --model)",
            }
          : {}),
      },
    ]);
  }
}

/**
 * Training records the digest of each file it wrote; a different file here means the model
 * and the card were mixed up (another run, a re-export), and publishing would pin the wrong card.
 */
function checkCardDescribesFile(
  field: string,
  artifact: Artifact,
  path: string,
  digest: Digest,
  cardPath: string,
) {
  const problems: Problem[] = [];
  if (artifact.sha256 !== digest.sha256) {
    problems.push({
      file: cardPath,
      field: `${field}.sha256`,
      message: `the card describes a model with sha256 ${artifact.sha256}, but ${path} has sha256 ${digest.sha256}`,
      hint: "publish the model file that was exported with this card",
    });
  }
  if (artifact.bytes !== digest.bytes) {
    problems.push({
      file: cardPath,
      field: `${field}.bytes`,
      message: `the card describes a model of ${artifact.bytes} bytes, but ${path} has ${digest.bytes}`,
      hint: "publish the model file that was exported with this card",
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

/**
 * A version's files are never replaced: the same files at the same URIs is a re-run. Returns
 * the variants `release` has and `existing` lacks (the only change publish makes to a card).
 */
function checkSameRelease(existing: ModelCard, release: ModelCard, cardPath: string): Precision[] {
  const { name, version } = release;
  const before = new Map(cardArtifacts(existing).map((a) => [a.precision, a]));
  const added: Precision[] = [];
  for (const a of cardArtifacts(release)) {
    const old = before.get(a.precision);
    if (!old) {
      added.push(a.precision);
      continue;
    }
    if (old.artifact.sha256 !== a.artifact.sha256 || old.artifact.bytes !== a.artifact.bytes) {
      throw storeError([
        {
          file: cardPath,
          field: `${a.field}.sha256`,
          message: `${name} ${version} is already published with ${describeDigest(old.artifact)} (${a.precision}); this model has ${describeDigest(a.artifact)}`,
          hint: "published versions are never overwritten; give the card a new version and publish that",
        },
      ]);
    }
    if (old.artifact.uri !== a.artifact.uri) {
      throw storeError([
        {
          file: cardPath,
          field: `${a.field}.uri`,
          message: `${name} ${version} is already published at ${old.artifact.uri}, not ${a.artifact.uri}`,
          hint: "publish to the store the catalog names (--store), or verify that store instead",
        },
      ]);
    }
  }
  return added;
}

/** true when a copy with these bytes is already there; throws when different bytes are. */
async function checkLocalCopy(path: string, digest: Digest): Promise<boolean> {
  if (!(await exists(path))) return false;
  acceptExisting(path, await hashFile(path), digest);
  return true;
}
