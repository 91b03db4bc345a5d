/**
 * Upstream API schemas → the strict JSON Schema (2020-12) the validator compiles. Pure: the
 * vendor script does the downloading and writing.
 *
 * - Kubernetes OpenAPI v3 (api/openapi-spec/v3 of k8s.io/kubernetes): the closure of the
 *   definitions the kinds reach; `allOf: [{$ref}]` wrappers unwrapped; every declared type also
 *   accepts null (the API server decodes a null field as unset; kubeconform does the same);
 *   objects with `properties` closed (`additionalProperties: false`), free-form ones
 *   (RawExtension, FieldsV1, JSON) left open.
 * - CustomResourceDefinitions: each served version's `openAPIV3Schema`. Structural schemas are
 *   pruned by the API server, so an unknown field never reaches it: every object is closed
 *   unless it says `x-kubernetes-preserve-unknown-fields` or has `additionalProperties`;
 *   `x-kubernetes-int-or-string` becomes integer-or-string; `nullable` adds null; the root's
 *   `metadata` is checked as the pinned Kubernetes' ObjectMeta.
 * - Both: descriptions, defaults, examples and `x-kubernetes-*` annotations dropped; formats
 *   kept where Kubernetes and ajv agree on their meaning; RE2 patterns made JavaScript.
 *   Not checked: CEL rules (`x-kubernetes-validations`), as with kubeconform.
 */

export type Schema = Record<string, unknown>;

/** Keywords whose value is a map of name → schema (so a property called `description` survives). */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions"]);
/** Keywords whose value is a schema or a list of schemas. */
const SCHEMA_VALUES = new Set([
  "items",
  "additionalProperties",
  "not",
  "allOf",
  "anyOf",
  "oneOf",
  "prefixItems",
]);

/** Visits every schema object (not every JSON object) below `schema`, children first. */
export function eachSchema(schema: unknown, visit: (s: Schema) => void): void {
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return;
  const s = schema as Schema;
  for (const [key, value] of Object.entries(s)) {
    if (SCHEMA_MAPS.has(key) && value && typeof value === "object") {
      for (const child of Object.values(value)) eachSchema(child, visit);
    } else if (SCHEMA_VALUES.has(key)) {
      for (const child of Array.isArray(value) ? value : [value]) eachSchema(child, visit);
    }
  }
  visit(s);
}

/**
 * Formats whose Kubernetes meaning ajv(-formats) and validate/index.ts check the same way.
 * Others (e.g. `duration`: Go's `1h30m` for Kubernetes, ISO 8601 for ajv; `uri`: Go's
 * ParseRequestURI is looser than RFC 3986; `int-or-string`, `password`, `cidr`) are dropped.
 */
export const KEPT_FORMATS = new Set([
  "int32",
  "int64",
  "double",
  "float",
  "byte",
  "date-time",
  "date",
  "ipv4",
  "ipv6",
  "uuid",
]);

/**
 * CRD patterns are Go (RE2) regular expressions; ajv compiles them as JavaScript with the `u`
 * flag. RE2's `(?i)` has no inline JavaScript form, so the letters it covers (up to the end of
 * the group it appears in) become `[aA]`-style classes; letters inside brackets are left alone,
 * which is at most stricter. Returns undefined for a pattern that still does not compile.
 */
export function ecmaPattern(re2: string): string | undefined {
  let out = "";
  // one "case-insensitive" flag per open group; (?i) sets the innermost
  const flags = [false];
  let inClass = false;
  for (let i = 0; i < re2.length; i++) {
    const ch = re2.charAt(i);
    if (ch === "\\") {
      out += ch + re2.charAt(++i);
      continue;
    }
    if (!inClass && re2.startsWith("(?i)", i)) {
      flags[flags.length - 1] = true;
      i += 3;
      continue;
    }
    if (inClass) {
      if (ch === "]") inClass = false;
      out += ch;
      continue;
    }
    if (ch === "[") inClass = true;
    else if (ch === "(") flags.push(flags[flags.length - 1] ?? false);
    else if (ch === ")" && flags.length > 1) flags.pop();
    const insensitive = flags[flags.length - 1];
    out += insensitive && /[a-z]/i.test(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch;
  }
  try {
    new RegExp(out, "u");
    return out;
  } catch {
    return undefined;
  }
}

/** What a conversion left out or changed, for the vendor script's summary. */
export interface Report {
  closed: number;
  celRules: number;
  droppedFormats: Map<string, number>;
  droppedPatterns: string[];
}

export const newReport = (): Report => ({
  closed: 0,
  celRules: 0,
  droppedFormats: new Map(),
  droppedPatterns: [],
});

/** Drops annotations the validator never reads; keeps formats and patterns it can check. */
function clean(s: Schema, report: Report): void {
  for (const key of Object.keys(s)) {
    if (key === "x-kubernetes-validations") report.celRules += (s[key] as unknown[]).length;
    if (
      key === "description" ||
      key === "default" ||
      key === "example" ||
      key === "readOnly" ||
      key === "externalDocs" ||
      key === "title" ||
      key === "$schema" ||
      key === "id" ||
      key.startsWith("x-")
    ) {
      delete s[key];
    }
  }
  if (typeof s.format === "string" && !KEPT_FORMATS.has(s.format)) {
    report.droppedFormats.set(s.format, (report.droppedFormats.get(s.format) ?? 0) + 1);
    delete s.format;
  }
  if (typeof s.pattern === "string") {
    const pattern = ecmaPattern(s.pattern);
    if (pattern === undefined) {
      report.droppedPatterns.push(s.pattern);
      delete s.pattern;
    } else s.pattern = pattern;
  }
}

const withNull = (type: unknown): unknown =>
  typeof type === "string"
    ? [type, "null"]
    : Array.isArray(type) && !type.includes("null")
      ? [...type, "null"]
      : type;

// ---- Kubernetes OpenAPI v3 ----

const OPENAPI_PREFIX = "#/components/schemas/";
const DEFS_PREFIX = "#/$defs/";

export interface OpenApiKind {
  /** `apps/v1/Deployment` */
  key: string;
  /** Definition name, e.g. `io.k8s.api.apps.v1.Deployment`. */
  def: string;
}

/**
 * The kinds a cluster stores that the validator offers: definitions carrying one
 * `x-kubernetes-group-version-kind` of a GA version (no alpha/beta), with ObjectMeta metadata,
 * not a List.
 */
export function openApiKinds(schemas: Record<string, Schema>): OpenApiKind[] {
  const out: OpenApiKind[] = [];
  for (const [def, s] of Object.entries(schemas)) {
    const gvks = s["x-kubernetes-group-version-kind"] as
      | { group: string; version: string; kind: string }[]
      | undefined;
    const gvk = gvks?.length === 1 ? gvks[0] : undefined;
    if (!gvk || /alpha|beta/.test(gvk.version) || gvk.kind.endsWith("List")) continue;
    const meta = JSON.stringify((s.properties as Schema | undefined)?.metadata ?? {});
    if (!meta.includes("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")) continue;
    out.push({ key: `${gvk.group ? `${gvk.group}/` : ""}${gvk.version}/${gvk.kind}`, def });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** One Kubernetes definition → strict JSON Schema (a fresh copy). */
function convertOpenApi(schema: Schema, report: Report): Schema {
  const s = structuredClone(schema);
  eachSchema(s, (node) => {
    // allOf: [{$ref}] is how OpenAPI v3 puts a default or description beside a reference.
    const allOf = node.allOf as Schema[] | undefined;
    if (allOf?.length === 1 && allOf[0]?.$ref && Object.keys(allOf[0]).length === 1) {
      node.$ref = allOf[0].$ref;
      delete node.allOf;
    }
    if (typeof node.$ref === "string") node.$ref = node.$ref.replace(OPENAPI_PREFIX, DEFS_PREFIX);
    clean(node, report);
    if (node.type !== undefined) node.type = withNull(node.type);
    if (node.properties && node.additionalProperties === undefined) {
      node.additionalProperties = false;
      report.closed++;
    }
  });
  return s;
}

/**
 * The definitions `roots` reach, converted. `roots` may also name definitions that other
 * documents reference (ObjectMeta for the CRDs).
 */
export function kubernetesDefs(
  schemas: Record<string, Schema>,
  kinds: OpenApiKind[],
  extraRoots: string[],
  report: Report,
): Record<string, Schema> {
  const keep = new Set<string>([...kinds.map((k) => k.def), ...extraRoots]);
  const queue = [...keep];
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    const def = schemas[name];
    if (!def) throw new Error(`the Kubernetes OpenAPI has no definition ${name}`);
    for (const m of JSON.stringify(def).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      const ref = m[1] as string;
      if (!keep.has(ref)) {
        keep.add(ref);
        queue.push(ref);
      }
    }
  }
  const defs: Record<string, Schema> = {};
  for (const name of [...keep].sort()) defs[name] = convertOpenApi(schemas[name] as Schema, report);
  for (const { key, def } of kinds) {
    const props = (defs[def] as { properties: Record<string, Schema> }).properties;
    const slash = key.lastIndexOf("/");
    props.apiVersion = { type: "string", enum: [key.slice(0, slash)] };
    props.kind = { type: "string", enum: [key.slice(slash + 1)] };
  }
  return defs;
}

// ---- CustomResourceDefinitions ----

interface CrdVersion {
  name: string;
  served?: boolean;
  schema?: { openAPIV3Schema?: Schema };
}

export interface Crd {
  kind: string;
  apiVersion: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { group: string; names: { kind: string }; versions: CrdVersion[] };
}

export interface CrdKind {
  /** `gateway.networking.k8s.io/v1/HTTPRoute` */
  key: string;
  /** Definition name in the component's document, e.g. `gateway.networking.k8s.io.v1.HTTPRoute`. */
  def: string;
  schema: Schema;
}

/** One CRD schema node → strict JSON Schema, in place. */
function convertCrdNode(node: Schema, objectMetaRef: string, report: Report): void {
  const preserve = node["x-kubernetes-preserve-unknown-fields"] === true;
  if (node["x-kubernetes-embedded-resource"] === true && !preserve) {
    // An embedded object (e.g. a PVC template) also has the fields every object has.
    const props = (node.properties ?? {}) as Record<string, Schema>;
    props.apiVersion ??= { type: "string" };
    props.kind ??= { type: "string" };
    if (!(props.metadata as Schema | undefined)?.properties) props.metadata = { $ref: objectMetaRef };
    node.properties = props;
  }
  if (node["x-kubernetes-int-or-string"] === true) {
    // Structural form: no type, or anyOf [integer, string] (possibly inside allOf).
    const hasAlternatives =
      Array.isArray(node.anyOf) ||
      (Array.isArray(node.allOf) && (node.allOf as Schema[]).some((a) => Array.isArray(a.anyOf)));
    if (!hasAlternatives) node.anyOf = [{ type: "integer" }, { type: "string" }];
    delete node.type;
  }
  if (node.nullable === true) {
    if (node.type !== undefined) node.type = withNull(node.type);
    if (Array.isArray(node.enum) && !node.enum.includes(null)) node.enum = [...node.enum, null];
  }
  delete node.nullable;
  clean(node, report);
  const isObject = node.type === "object" || (Array.isArray(node.type) && node.type.includes("object"));
  if (!preserve && node.additionalProperties === undefined && (node.properties || isObject)) {
    node.additionalProperties = false;
    report.closed++;
  }
  // OpenAPI v3.0 `exclusiveMinimum: true` is JSON Schema's `exclusiveMinimum: <minimum>`.
  for (const [flag, bound] of [
    ["exclusiveMinimum", "minimum"],
    ["exclusiveMaximum", "maximum"],
  ] as const) {
    if (typeof node[flag] === "boolean") {
      if (node[flag] && typeof node[bound] === "number") {
        node[flag] = node[bound];
        delete node[bound];
      } else delete node[flag];
    }
  }
}

/**
 * Each served version of a CRD → its JSON Schema, with apiVersion/kind pinned and metadata
 * referring to `objectMetaRef` (the pinned Kubernetes' ObjectMeta).
 */
export function crdKinds(crd: Crd, objectMetaRef: string, report: Report): CrdKind[] {
  const out: CrdKind[] = [];
  const { group, names } = crd.spec;
  for (const v of crd.spec.versions) {
    if (v.served === false) continue;
    const root = v.schema?.openAPIV3Schema;
    if (!root) throw new Error(`CRD ${crd.metadata.name} version ${v.name} has no openAPIV3Schema`);
    const schema = structuredClone(root);
    // metadata is replaced wholesale: upstream CRDs say only `type: object` there.
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    delete props.metadata;
    eachSchema(schema, (node) => convertCrdNode(node, objectMetaRef, report));
    const apiVersion = `${group}/${v.name}`;
    schema.type = "object";
    schema.properties = {
      ...props,
      apiVersion: { type: "string", enum: [apiVersion] },
      kind: { type: "string", enum: [names.kind] },
      metadata: { $ref: objectMetaRef },
    };
    schema.additionalProperties = false;
    out.push({ key: `${apiVersion}/${names.kind}`, def: `${group}.${v.name}.${names.kind}`, schema });
  }
  return out;
}

// ---- shared subschemas ----

/** Replaces each schema position in `node` (not `node` itself) via `f`. */
function mapChildren(node: Schema, f: (child: Schema) => Schema): void {
  for (const [key, value] of Object.entries(node)) {
    if (SCHEMA_MAPS.has(key) && key !== "$defs" && value && typeof value === "object") {
      const map = value as Record<string, Schema>;
      for (const [name, child] of Object.entries(map)) map[name] = f(child);
    } else if (SCHEMA_VALUES.has(key) && value && typeof value === "object") {
      node[key] = Array.isArray(value) ? value.map((c) => f(c as Schema)) : f(value as Schema);
    }
  }
}

/**
 * CRDs repeat large subschemas (every container of a Prometheus, the Application template in
 * each ApplicationSet generator): each one that occurs twice or more and is larger than
 * `minSize` characters moves to `$defs` once, under a name derived from its content.
 */
export function shareRepeated(
  defs: Record<string, Schema>,
  hash: (text: string) => string,
  minSize = 400,
): number {
  const counts = new Map<string, number>();
  const count = (node: Schema): Schema => {
    mapChildren(node, (c) => {
      const text = JSON.stringify(c);
      if (text.length >= minSize) counts.set(text, (counts.get(text) ?? 0) + 1);
      return count(c);
    });
    return node;
  };
  for (const def of Object.values(defs)) count(def);
  const shared: Record<string, Schema> = {};
  const rewrite = (node: Schema): Schema => {
    mapChildren(node, (c) => {
      const text = JSON.stringify(c);
      if ((counts.get(text) ?? 0) < 2) return rewrite(c);
      const name = `shared.${hash(text).slice(0, 12)}`;
      if (!shared[name]) {
        shared[name] = c;
        rewrite(c);
      }
      return { $ref: `#/$defs/${name}` };
    });
    return node;
  };
  for (const def of Object.values(defs)) rewrite(def);
  Object.assign(defs, shared);
  return Object.keys(shared).length;
}
