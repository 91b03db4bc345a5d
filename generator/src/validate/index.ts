/**
 * Checks rendered Kubernetes objects against the upstream API schemas, strictly: an unknown
 * field is an error, as with `kubeconform -strict`. Offline: the schemas are generated into
 * generator/schemas/k8s/ from the pinned releases (vendor.ts says from where, convert.ts how
 * they are made strict). A schema file is read when a kind in it is first validated, and each
 * kind's validator is compiled on first use and cached for the life of the process.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { Problem } from "../errors.ts";

export interface ObjectToValidate {
  /** File the object was (or will be) written to; copied into each problem. */
  file: string;
  /** Position of the object in that file (0-based), for objects without a name. */
  index: number;
  object: Record<string, unknown>;
}

/** Where one schema file came from (vendor.ts writes it; pins.test.ts checks it against the pins). */
export interface SchemaSource {
  module: string;
  version: string;
  /** The file and version the repository pins it in (absent: not pinned in the repo yet). */
  pinnedIn?: string;
  pin?: string;
  file: string;
  note?: string;
}

export interface SchemaIndex {
  kubernetesVersion: string;
  sources: Record<string, SchemaSource>;
  prometheus?: { version: string; module: string; moduleVersion: string };
  /** `apiVersion/kind` → schema reference (`<file>#/$defs/<name>`), relative to BASE. */
  kinds: Record<string, string>;
}

const BASE = "https://wms.invalid/k8s/";
const DIR = fileURLToPath(new URL("../../schemas/k8s/", import.meta.url));
const readJson = (name: string) =>
  JSON.parse(readFileSync(`${DIR}${name}`, "utf8")) as Record<string, unknown>;

const index = readJson("index.json") as unknown as SchemaIndex;

/** The schema index: kinds and the module@version each schema file was generated from. */
export const schemaIndex = (): SchemaIndex => index;

/** Kubernetes minor version the built-in kinds are checked against, e.g. `1.36`. */
export const KUBERNETES_VERSION: string = index.kubernetesVersion;

/** Every `apiVersion/kind` the validator has a schema for, sorted. */
export const knownKinds = (): string[] => Object.keys(index.kinds).sort();

let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();
const added = new Set<string>();

function instance(): Ajv2020 {
  if (!ajv) {
    // allErrors: report every problem of an object at once. No coercion, no defaults: the
    // objects are what gets committed and applied.
    // strictTypes off: CRDs put string keywords beside `anyOf: [integer, string]` (quantities,
    // int-or-string), which JSON Schema applies to strings only, as the API server does.
    ajv = new Ajv2020({
      allErrors: true,
      strict: true,
      strictTypes: false,
      allowUnionTypes: true,
      verbose: true,
    });
    addFormats.default(ajv);
    const int = (bits: number) => ({
      type: "number" as const,
      // Range only: a fraction is already reported by `type: integer`.
      validate: (n: number) => Math.abs(n) <= 2 ** (bits - 1),
    });
    ajv.addFormat("int32", int(32));
    ajv.addFormat("int64", int(64));
    ajv.addFormat("double", { type: "number", validate: () => true });
    ajv.addFormat("float", { type: "number", validate: () => true });
    ajv.addFormat("byte", /^[A-Za-z0-9+/]*={0,2}$/);
  }
  return ajv;
}

/** Adds a schema file to ajv once; the CRD files refer into kubernetes.json (ObjectMeta). */
function load(doc: string): void {
  if (added.has(doc)) return;
  if (doc !== "kubernetes.json") load("kubernetes.json");
  instance().addSchema({ ...readJson(doc), $id: `${BASE}${doc}` });
  added.add(doc);
}

function validatorFor(key: string): ValidateFunction | undefined {
  const cached = compiled.get(key);
  if (cached) return cached;
  const ref = index.kinds[key];
  if (!ref) return undefined;
  load(ref.slice(0, ref.indexOf("#")));
  const validate = instance().getSchema(`${BASE}${ref}`);
  if (!validate) throw new Error(`schema reference ${ref} for ${key} does not resolve`);
  compiled.set(key, validate);
  return validate;
}

/** `/spec/template/spec/containers/0/image` → `spec.template.spec.containers[0].image`. */
function dotted(pointer: string, child?: string): string {
  let out = "";
  const parts = pointer.split("/").slice(1);
  if (child !== undefined) parts.push(child);
  for (const raw of parts) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** The types a (possibly `oneOf`/`anyOf`) schema accepts, for messages such as IntOrString's. */
function acceptedTypes(schema: unknown): string[] {
  if (!schema || typeof schema !== "object") return [];
  const s = schema as Record<string, unknown>;
  const own = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const branches = [s.oneOf, s.anyOf].flatMap((b) => (Array.isArray(b) ? b.flatMap(acceptedTypes) : []));
  return [...new Set([...own, ...branches].map(String))].filter((t) => t !== "null");
}

/** One message per failing place; errors from inside a failed oneOf/anyOf are folded into it. */
function toProblems(errors: ErrorObject[], file: string, who: string, key: string): Problem[] {
  // A failed oneOf/anyOf (IntOrString, Quantity) reports each branch too; keep only its summary.
  const alternatives = errors
    .filter((e) => e.keyword === "oneOf" || e.keyword === "anyOf")
    .map((e) => e.instancePath);
  const inside = (e: ErrorObject) =>
    e.keyword !== "oneOf" &&
    e.keyword !== "anyOf" &&
    /\/(oneOf|anyOf)\/\d+\//.test(e.schemaPath) &&
    alternatives.some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const e of errors) {
    if (inside(e)) continue;
    let field = dotted(e.instancePath);
    let message: string;
    let hint: string;
    switch (e.keyword) {
      case "additionalProperties": {
        const name = String(e.params.additionalProperty);
        field = dotted(e.instancePath, name);
        message = `unknown field "${name}"`;
        const known = Object.keys((e.parentSchema?.properties as object | undefined) ?? {}).sort();
        hint = `remove it or fix its spelling; ${dotted(e.instancePath) || "the top level"} allows: ${known.join(", ") || "nothing"}`;
        break;
      }
      case "required": {
        const name = String(e.params.missingProperty);
        field = dotted(e.instancePath, name);
        message = `missing required field "${name}"`;
        hint = `${key} requires it`;
        break;
      }
      case "type":
        message = `expected ${String(e.params.type).replace(/,?null,?/, "")}, got ${typeOf(e.data)}`;
        hint = "fix the value's type (quote numbers meant as strings)";
        break;
      case "oneOf":
      case "anyOf":
        message = `expected ${acceptedTypes(e.parentSchema).join(" or ") || "a matching value"}, got ${typeOf(e.data)}`;
        hint = "fix the value's type";
        break;
      case "enum":
        message = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, got ${JSON.stringify(e.data)}`;
        hint = "use one of the allowed values";
        break;
      case "format":
        message = `must be a valid ${String(e.params.format)}, got ${JSON.stringify(e.data)}`;
        hint = "fix the value";
        break;
      default: {
        const scalar = e.data === null || typeof e.data !== "object";
        const shown = typeof e.data === "string" && e.data.length > 80 ? `${e.data.slice(0, 80)}…` : e.data;
        message = `${e.message ?? e.keyword}${scalar ? `, got ${JSON.stringify(shown)}` : ""}`;
        hint = `see the ${key} schema (Kubernetes ${KUBERNETES_VERSION})`;
      }
    }
    const id = `${field}\u0000${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push({ file, field: `${who} ${field}`.trimEnd(), message, hint });
  }
  // Schema order depends on how a schema lists its fields; path order reads better.
  return problems.sort((a, b) =>
    (a.field ?? "") < (b.field ?? "") ? -1 : (a.field ?? "") > (b.field ?? "") ? 1 : 0,
  );
}

/**
 * Validates each object against the schema of its apiVersion/kind. Returns every problem found
 * (an empty list when all are valid); `field` reads `Kind/name path.to[0].field`.
 */
export function validateObjects(objects: ObjectToValidate[]): Problem[] {
  const problems: Problem[] = [];
  for (const { file, index: at, object } of objects) {
    const { apiVersion, kind } = object;
    const metadata = object.metadata as { name?: unknown } | undefined;
    const name = typeof metadata?.name === "string" ? metadata.name : `#${at}`;
    const who = `${typeof kind === "string" ? kind : "?"}/${name}`;
    const key = `${String(apiVersion)}/${String(kind)}`;
    const validate =
      typeof apiVersion === "string" && typeof kind === "string" ? validatorFor(key) : undefined;
    if (!validate) {
      const sameKind = knownKinds().filter((k) => k.endsWith(`/${String(kind)}`));
      problems.push({
        file,
        field: `${who} apiVersion/kind`,
        message: `no schema for apiVersion "${String(apiVersion)}", kind "${String(kind)}"`,
        hint: sameKind.length
          ? `${String(kind)} is known as ${sameKind.map((k) => k.slice(0, k.lastIndexOf("/"))).join(", ")}`
          : `check apiVersion and kind; to validate a new kind, pin the component that defines it (generator/tools/k8s-schemas/pins.ts) and rerun \`npm run schemas:vendor\` (${knownKinds().length} kinds known)`,
      });
      continue;
    }
    if (!validate(object)) problems.push(...toProblems(validate.errors ?? [], file, who, key));
  }
  return problems;
}
