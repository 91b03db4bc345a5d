/**
 * Test prerequisites: the untrained example model (exported by the training package, once,
 * cached under model/server/.cache and never committed) and the dataset. Tests that need
 * something absent skip and say why.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const SERVER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const REPO_ROOT = resolve(SERVER_DIR, "../..");
export const PYTHON = join(REPO_ROOT, ".venv/bin/python");
export const TRAINING_DIR = join(REPO_ROOT, "model/training");
export const CACHE_DIR = join(SERVER_DIR, ".cache");
export const DATASET_DIR =
  process.env.WMS_DATASET_DIR ?? resolve(REPO_ROOT, "../shared/datasets/water-meters");

export interface ModelFiles {
  dir: string;
  model: string;
  card: string;
}

/** Why the model cannot be built here, or null when it can. */
export function modelUnavailable(): string | null {
  if (!existsSync(PYTHON))
    return `no Python venv at ${PYTHON} (create it from model/training/requirements.txt)`;
  if (!existsSync(join(TRAINING_DIR, "wms_training/untrained.py")))
    return "model/training/wms_training is missing";
  return null;
}

export function datasetUnavailable(): string | null {
  return existsSync(join(DATASET_DIR, "images"))
    ? null
    : `dataset not found at ${DATASET_DIR} (set WMS_DATASET_DIR)`;
}

/** The cache key follows the training code, so an architecture change rebuilds the model. */
function trainingCodeHash(): string {
  const h = createHash("sha256");
  const pkg = join(TRAINING_DIR, "wms_training");
  for (const f of readdirSync(pkg)
    .filter((f) => f.endsWith(".py"))
    .sort()) {
    h.update(f).update(readFileSync(join(pkg, f)));
  }
  return h.digest("hex").slice(0, 12);
}

const building = new Map<number, Promise<ModelFiles>>();

/**
 * The seeded, untrained U-Net (512x512 unless asked otherwise) with its example card, exported
 * by the documented command (model/training/EXPORT_UNTRAINED_READY). Built into a temp folder
 * and renamed into place, so parallel test workers never see half a model.
 */
export function untrainedModel(size = 512): Promise<ModelFiles> {
  const cached = building.get(size);
  if (cached) return cached;
  const promise = (async () => {
    const why = modelUnavailable();
    if (why) throw new Error(why);
    const dir = join(CACHE_DIR, `untrained-${size}-${trainingCodeHash()}`);
    const files = { dir, model: join(dir, "model.onnx"), card: join(dir, "model-card.json") };
    if (existsSync(files.card)) return files;
    await mkdir(CACHE_DIR, { recursive: true });
    const tmp = join(CACHE_DIR, `tmp-${process.pid}-${Date.now()}`);
    await run(PYTHON, ["-m", "wms_training", "export-untrained", "--out", tmp, "--size", String(size)], {
      cwd: TRAINING_DIR,
      timeout: 120_000,
    });
    try {
      await rename(tmp, dir);
    } catch {
      await rm(tmp, { recursive: true, force: true }); // another worker won the race
    }
    return files;
  })();
  building.set(size, promise);
  return promise;
}

/** Release models the repository ships for local use (model/releases/<model>/<version>/model.onnx). */
export function shippedReleaseModels(): ModelFiles[] {
  const root = join(REPO_ROOT, "model/releases");
  if (!existsSync(root)) return [];
  const found: ModelFiles[] = [];
  for (const model of readdirSync(root)) {
    const versions = join(root, model);
    if (!existsSync(versions) || !statSync(versions).isDirectory()) continue;
    for (const version of readdirSync(versions)) {
      const dir = join(versions, version);
      const files = { dir, model: join(dir, "model.onnx"), card: join(dir, "model-card.json") };
      if (existsSync(files.model) && existsSync(files.card)) found.push(files);
    }
  }
  return found;
}

/** The model.onnx of the highest release version the repository ships (for the benches' "latest"). */
export function newestShippedRelease(): string {
  const semver = (dir: string) => (dir.split("/").at(-1) as string).split(/[.-]/).map((n) => Number(n) || 0);
  const newest = shippedReleaseModels().sort((a, b) => {
    const [x, y] = [semver(a.dir), semver(b.dir)];
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
    return 0;
  });
  const last = newest.at(-1);
  if (!last) throw new Error("no release ships a model.onnx under model/releases: pass --model untrained");
  return last.model;
}

/** Dataset photos, sorted by name. */
export function datasetImages(): string[] {
  const dir = join(DATASET_DIR, "images");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".jpg"))
    .sort()
    .map((f) => join(dir, f));
}
