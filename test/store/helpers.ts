/** Fixtures for the store tests: a fake model (the store never parses ONNX) and its card. */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import type { ModelCard } from "../../generator/src/model-card.ts";

export const tempDir = (label: string) => mkdtemp(join(tmpdir(), `wms-${label}-`));

/**
 * Writes `model.onnx` + `model-card.json` the way training does (card pins the local file);
 * with `int8`, also `model.int8.onnx` and the card's variants.int8 (int8 IoU 0.002 below fp32).
 */
export async function trainedModel(
  dir: string,
  opts: { version?: string; content?: Buffer; int8?: Buffer } = {},
): Promise<{ modelPath: string; cardPath: string; card: ModelCard; content: Buffer; int8Path?: string }> {
  const content = opts.content ?? randomBytes(4096);
  const modelPath = join(dir, "model.onnx");
  const cardPath = join(dir, "model-card.json");
  await mkdir(dir, { recursive: true });
  await writeFile(modelPath, content);
  const card = sampleCard({
    version: opts.version ?? "1.0.0",
    uri: pathToFileURL(modelPath).href,
    sha256: createHash("sha256").update(content).digest("hex"),
    bytes: content.length,
  });
  const int8Path = join(dir, "model.int8.onnx");
  if (opts.int8) {
    await writeFile(int8Path, opts.int8);
    card.variants = {
      int8: {
        precision: "int8",
        uri: pathToFileURL(int8Path).href,
        sha256: createHash("sha256").update(opts.int8).digest("hex"),
        bytes: opts.int8.length,
        format: "onnx",
        opset: 17,
        metrics: { val: { iou: 0.798, dice: 0.878 }, test: { iou: 0.788, dice: 0.869 } },
        calibration: { images: 64, method: "minmax", selection: "spread", reduceRange: true },
      },
    };
  }
  await writeFile(cardPath, `${JSON.stringify(card, null, 2)}\n`);
  return { modelPath, cardPath, card, content, ...(opts.int8 ? { int8Path } : {}) };
}

export function sampleCard(a: { version: string; uri: string; sha256: string; bytes: number }): ModelCard {
  return {
    name: "wms",
    version: a.version,
    createdAt: "2026-11-01T10:00:00Z",
    example: true,
    training: {
      gitCommit: "abcdef1",
      dataVersion: "sha256:00",
      mlflowRunId: "",
      params: {},
      durationSeconds: 1,
    },
    metrics: { val: { iou: 0.8, dice: 0.88 }, test: { iou: 0.79, dice: 0.87 } },
    artifact: { uri: a.uri, sha256: a.sha256, bytes: a.bytes, format: "onnx", opset: 17 },
    io: {
      input: {
        name: "input",
        shape: [-1, 3, 256, 256],
        layout: "NCHW",
        dtype: "float32",
        preprocessing: {
          exifTranspose: true,
          colorSpace: "RGB",
          resize: { width: 256, height: 256, mode: "stretch", interpolation: "bilinear" },
          scale: 1 / 255,
          mean: [0.485, 0.456, 0.406],
          std: [0.229, 0.224, 0.225],
        },
      },
      output: { name: "logits", activation: "sigmoid", threshold: 0.5 },
    },
    license: { data: "CC-BY-4.0" },
  };
}

/** Every file under `dir`, relative and sorted: compare before/after to prove nothing changed. */
export async function listTree(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .map((e) => relative(dir, join(e.parentPath, e.name)) + (e.isDirectory() ? "/" : ""))
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}
