/**
 * The model card's one validator: model-card.schema.json (draft 2020-12, formats) compiled by
 * ajv, strict, every problem reported. The generator (generator/src/model-card.ts) and the
 * model server (model/server/src/model/card.ts) both validate with it and word its problems
 * in their own errors. Reads the schema file once per path; imports neither side.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** The schema beside this file (the server's container runs a bundle from elsewhere and names
 * its copy through WMS_MODEL_CARD_SCHEMA). */
export const CARD_SCHEMA_FILE = fileURLToPath(new URL("./model-card.schema.json", import.meta.url));

/** One way a card breaks the schema. */
export interface CardSchemaProblem {
  /** JSON Pointer of the offending value ("" for the root), e.g. /io/input/shape */
  pointer: string;
  /** the same as a dotted field name ("(root)" for the root), e.g. io.input.shape */
  field: string;
  /** ajv's message, e.g. "must have required property 'name'" */
  message: string;
  /** the property an additionalProperties rule refused, where that is the problem */
  additionalProperty?: string;
}

const compiled = new Map<string, ValidateFunction>();

function validator(schemaFile: string): ValidateFunction {
  let validate = compiled.get(schemaFile);
  if (!validate) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats.default(ajv);
    validate = ajv.compile(JSON.parse(readFileSync(schemaFile, "utf8")));
    compiled.set(schemaFile, validate);
  }
  return validate;
}

/** Every way `data` breaks the card schema at `schemaFile`; empty when it is a valid card. */
export function cardSchemaProblems(
  data: unknown,
  schemaFile: string = CARD_SCHEMA_FILE,
): CardSchemaProblem[] {
  const validate = validator(schemaFile);
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) => ({
    pointer: e.instancePath,
    field: e.instancePath.replace(/^\//, "").replaceAll("/", ".") || "(root)",
    message: e.message ?? "invalid",
    ...(e.params && "additionalProperty" in e.params
      ? { additionalProperty: String(e.params.additionalProperty) }
      : {}),
  }));
}
