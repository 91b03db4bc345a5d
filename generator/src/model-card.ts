/**
 * The model card: one JSON Schema (model/model-card.schema.json) shared by training (Python),
 * the generator and the model server; its type is model/model-card.ts, its validator
 * model/card-schema.ts (the server's too). This module words the validator's problems as the
 * generator's input errors.
 */
import { CARD_SCHEMA_FILE, cardSchemaProblems } from "../../model/card-schema.ts";
import type { ModelCard } from "../../model/model-card.ts";
import { inputError, type Problem } from "./errors.ts";
import { readInputFile } from "./repo-file.ts";
import { STORE_URI_HINT } from "./store/uri.ts";

export type {
  Artifact,
  CardArtifact,
  Int8Variant,
  ModelCard,
  Precision,
  SegMetrics,
} from "../../model/model-card.ts";
export {
  artifactAt,
  artifactWithDigest,
  cardArtifacts,
  int8IouDrop,
  PRECISIONS,
} from "../../model/model-card.ts";

export const MODEL_CARD_SCHEMA_PATH = CARD_SCHEMA_FILE;

const CARD_HINTS: Record<string, string> = {
  "artifact.uri": `${STORE_URI_HINT}, ending in /model.onnx`,
  "variants.int8.uri": `${STORE_URI_HINT}, ending in /model.int8.onnx`,
};

/** Every schema problem of `data`, each naming `file` and the field. Empty when valid. */
export function cardProblems(data: unknown, file: string): Problem[] {
  return cardSchemaProblems(data, MODEL_CARD_SCHEMA_PATH).map((p) => ({
    file,
    field: p.field,
    message: `${p.message}${p.additionalProperty !== undefined ? `: ${p.additionalProperty}` : ""}`,
    hint: CARD_HINTS[p.field] ?? "see model/model-card.schema.json",
  }));
}

/** Parse and validate a card; throws a WmsError listing every problem. */
export function parseCard(text: string, file: string): ModelCard {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw inputError([
      { file, message: `not valid JSON: ${(e as Error).message}`, hint: "fix the JSON syntax" },
    ]);
  }
  const problems = cardProblems(data, file);
  if (problems.length) throw inputError(problems, `invalid model card ${file}`);
  return data as ModelCard;
}

/** Read (a regular file, at most the input size limit) and parse the card at `file`. */
export const readCard = (file: string): ModelCard => parseCard(readInputFile(file, { what: "card" }), file);
