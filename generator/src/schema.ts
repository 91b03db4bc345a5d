/** ajv, compiled once per schema file, with problems that name file, line and field. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { Problem } from "./errors.ts";
import { pathToField, pointerToPath, type YamlSource } from "./yaml-source.ts";

const ajv = new Ajv2020({ allErrors: true, strict: true, useDefaults: false });
addFormats.default(ajv);
const cache = new Map<string, ValidateFunction>();

export const schemaPath = (name: string) => fileURLToPath(new URL(`../schemas/${name}`, import.meta.url));

function compiled(name: string): ValidateFunction {
  let fn = cache.get(name);
  if (!fn) {
    fn = ajv.compile(JSON.parse(readFileSync(schemaPath(name), "utf8")));
    cache.set(name, fn);
  }
  return fn;
}

/** Validate `src.data` against generator/schemas/<name>; one Problem per violation. */
export function schemaProblems(name: string, src: YamlSource, hints: Record<string, string> = {}): Problem[] {
  const validate = compiled(name);
  if (validate(src.data)) return [];
  return (validate.errors ?? []).map((e) => toProblem(e, src, name, hints));
}

function toProblem(e: ErrorObject, src: YamlSource, schema: string, hints: Record<string, string>): Problem {
  const path = pointerToPath(e.instancePath);
  let message = e.message ?? "invalid";
  if (e.keyword === "additionalProperties") {
    const key = String((e.params as { additionalProperty: string }).additionalProperty);
    path.push(key);
    message = `unknown field "${key}"`;
  } else if (e.keyword === "required") {
    message = `missing required field "${String((e.params as { missingProperty: string }).missingProperty)}"`;
  } else if (e.keyword === "enum") {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v));
    message = `${JSON.stringify(valueAt(src.data, path))} is not one of ${allowed.join(", ")}`;
  } else if (e.keyword === "pattern") {
    message = `${JSON.stringify(valueAt(src.data, path))} is not valid here (must match ${(e.params as { pattern: string }).pattern})`;
  }
  const field = pathToField(path) || "(top level)";
  return {
    file: src.file,
    line: src.lineOf(path),
    field,
    message,
    hint: hints[field.replace(/\[\d+\]/g, "[]")] ?? `see generator/schemas/${schema}`,
  };
}

function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let v = data;
  for (const k of path) v = (v as Record<string | number, unknown> | undefined)?.[k];
  return v;
}

/**
 * A name pattern from one of our schemas (the one definition of what an environment or model
 * name may be), for names that arrive another way, e.g. as command-line options.
 */
export function schemaPattern(name: string, pointer: string[]): RegExp {
  let node: unknown = JSON.parse(readFileSync(schemaPath(name), "utf8"));
  for (const key of pointer) node = (node as Record<string, unknown>)[key];
  const pattern = (node as { pattern?: string } | undefined)?.pattern;
  if (!pattern) throw new Error(`${name}: no pattern at ${pointer.join("/")}`);
  return new RegExp(pattern);
}

/** The `default` of every property of an object in one of our schemas (the one place they are written). */
export function schemaDefaults(name: string, pointer: string[]): Record<string, unknown> {
  let node: unknown = JSON.parse(readFileSync(schemaPath(name), "utf8"));
  for (const key of pointer) node = (node as Record<string, unknown>)[key];
  const props = (node as { properties?: Record<string, { default?: unknown }> } | undefined)?.properties;
  if (!props) throw new Error(`${name}: no properties at ${pointer.join("/")}`);
  return Object.fromEntries(
    Object.entries(props)
      .filter(([, p]) => p.default !== undefined)
      .map(([k, p]) => [k, p.default]),
  );
}
