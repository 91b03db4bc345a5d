/**
 * The model card: one JSON Schema (model/model-card.schema.json) shared by training (Python),
 * the generator and the model server; its type is model/model-card.ts. This module validates it with ajv.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
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

export const MODEL_CARD_SCHEMA_PATH = fileURLToPath(
  new URL("../../model/model-card.schema.json", import.meta.url),
);

let compiled: ValidateFunction | undefined;
function validator() {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats.default(ajv);
    compiled = ajv.compile(JSON.parse(readFileSync(MODEL_CARD_SCHEMA_PATH, "utf8")));
  }
  return compiled;
}

const CARD_HINTS: Record<string, string> = {
  "artifact.uri": `${STORE_URI_HINT}, ending in /model.onnx`,
  "variants.int8.uri": `${STORE_URI_HINT}, ending in /model.int8.onnx`,
};

/** Every schema problem of `data`, each naming `file` and the field. Empty when valid. */
export function cardProblems(data: unknown, file: string): Problem[] {
  const validate = validator();
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) => {
    const field = e.instancePath.replace(/^\//, "").replaceAll("/", ".") || "(root)";
    return {
      file,
      field,
      message: `${e.message ?? "invalid"}${e.params && "additionalProperty" in e.params ? `: ${String(e.params.additionalProperty)}` : ""}`,
      hint: CARD_HINTS[field] ?? "see model/model-card.schema.json",
    };
  });
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
