/**
 * The model card is the one preprocessing/postprocessing spec shared with training: the
 * server takes input size, normalisation, activation and threshold from it and hard-codes
 * none of them. It is validated against the shared schema file (model/model-card.schema.json)
 * by the shared validator (model/card-schema.ts, the generator's too).
 */
import { fileURLToPath } from "node:url";
import { cardSchemaProblems } from "../../../card-schema.ts";
import type { ModelCard } from "../../../model-card.ts";
import { ModelLoadError } from "../errors.ts";

/**
 * The shared schema, one file for training, generator and server (never copied). The container
 * runs a bundle from another folder, so it names the file through WMS_MODEL_CARD_SCHEMA.
 */
export const MODEL_CARD_SCHEMA_PATH =
  process.env.WMS_MODEL_CARD_SCHEMA ||
  fileURLToPath(new URL("../../../model-card.schema.json", import.meta.url));

export type { ModelCard } from "../../../model-card.ts";

/** What the pipeline needs, flattened from the card once at load time. */
export interface InferenceSpec {
  name: string;
  version: string;
  inputName: string;
  outputName: string;
  width: number;
  height: number;
  /** null when the batch dimension is dynamic (-1) */
  fixedBatch: number | null;
  exifTranspose: boolean;
  scale: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  activation: "sigmoid" | "none";
  threshold: number;
  resizeBack: "bilinear" | "nearest";
}

/** Parse and validate card JSON; every schema problem is reported, as `[path] message`. */
export function parseCard(text: string, source: string): ModelCard {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${source}: model card is not JSON (${(err as Error).message})`);
  }
  const found = cardSchemaProblems(data, MODEL_CARD_SCHEMA_PATH);
  if (found.length) {
    const problems = found.map((p) => `  [${p.pointer || "/"}] ${p.message}`);
    throw new ModelLoadError(
      `${source}: model card does not match ${MODEL_CARD_SCHEMA_PATH}:\n${problems.join("\n")}\n` +
        "hint: cards are written by `python -m wms_training`; do not edit them by hand",
    );
  }
  return data as ModelCard;
}

export function inferenceSpec(card: ModelCard): InferenceSpec {
  const { input, output } = card.io;
  const pre = input.preprocessing;
  const [n, c, h, w] = input.shape;
  if (c !== 3 || h !== pre.resize.height || w !== pre.resize.width) {
    throw new ModelLoadError(
      `model card: input shape ${JSON.stringify(input.shape)} disagrees with preprocessing.resize ` +
        `${pre.resize.width}x${pre.resize.height} (expected [N,3,${pre.resize.height},${pre.resize.width}])`,
    );
  }
  return {
    name: card.name,
    version: card.version,
    inputName: input.name,
    outputName: output.name,
    width: pre.resize.width,
    height: pre.resize.height,
    fixedBatch: n > 0 ? n : null,
    exifTranspose: pre.exifTranspose,
    scale: pre.scale,
    mean: pre.mean,
    std: pre.std,
    activation: output.activation,
    threshold: output.threshold,
    // Training resizes the probability map bilinearly; older cards without the field did too.
    resizeBack: output.resizeBack ?? "bilinear",
  };
}
