/**
 * Regenerates the strict JSON Schemas in generator/schemas/k8s/ from the releases the
 * repository pins (run by hand after a pin changes, never at render time: it needs the Go
 * module proxy, the validator does not).
 *
 *   npm run schemas:vendor -- [--pins-from <checkout>] [--out <dir>]
 *
 * 1. Reads the pins (pins.ts): the EKS minor from terraform/, Argo CD's install tag
 *    from apps/argocd, chart versions from the Argo CD Applications in apps/.
 * 2. Downloads each release's Go module with `go mod download -json <module>@<version>` (the
 *    module cache and GOPROXY as configured) and reads, from the module's own files:
 *    Kubernetes' api/openapi-spec/v3/*.json, and each component's CustomResourceDefinitions.
 * 3. Converts them (convert.ts) and writes kubernetes.json, one <component>.json per
 *    CRD source, and index.json: every `apiVersion/kind` → its schema, and which
 *    module@version (and which repo pin) each file came from.
 *
 * Everything is built in memory first: on any error nothing in --out is touched.
 * `--pins-from` reads the pins from another checkout (e.g. a branch not merged yet).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { yamlData } from "../../src/yaml-source.ts";
import {
  type Crd,
  crdKinds,
  kubernetesDefs,
  newReport,
  openApiKinds,
  type Report,
  type Schema,
  shareRepeated,
} from "./convert.ts";
import {
  PinError,
  prometheusModuleVersion,
  prometheusVersion,
  readRepoPins,
  type Source,
  sourcesFor,
} from "./pins.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../../..");
const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const CORE_DOC = "kubernetes.json";

interface Download {
  Dir?: string;
  Zip?: string;
  Error?: string;
}

let workDir: string | undefined;
const work = () => {
  workDir ??= mkdtempSync(join(tmpdir(), "k8s-schemas-"));
  return workDir;
};

/**
 * The extracted module. A module whose go.mod asks for a newer Go than the one here is still
 * fetched (its zip is in the cache), but `go mod download` will not extract it: we unzip it.
 */
function moduleDir(module: string, version: string): string {
  let out: string;
  try {
    out = execFileSync("go", ["mod", "download", "-json", `${module}@${version}`], {
      cwd: work(),
      encoding: "utf8",
      env: { ...process.env, GOFLAGS: "-mod=mod", GOWORK: "off" },
      stdio: ["ignore", "pipe", "inherit"],
    });
  } catch (e) {
    out = String((e as { stdout?: unknown }).stdout ?? "");
    if (!out) throw e;
  }
  const d = JSON.parse(out) as Download;
  if (d.Dir) return d.Dir;
  if (d.Zip && existsSync(d.Zip)) {
    const dest = join(work(), `${module.replace(/\//g, "_")}@${version}`);
    execFileSync("unzip", ["-q", "-o", d.Zip, "-d", dest]);
    console.log(`  (${d.Error}: unzipped ${relative(work(), dest)} from the module cache)`);
    return join(dest, `${module}@${version}`);
  }
  throw new Error(`go mod download ${module}@${version}: ${d.Error ?? "no Dir in its output"}`);
}

/** The version of `dep` that `dir`'s go.mod requires. */
function requiredVersion(dir: string, dep: string): string | undefined {
  const gomod = readFileSync(join(dir, "go.mod"), "utf8");
  const esc = dep.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\s*(?:require\\s+)?${esc}\\s+(v\\S+)`, "m").exec(gomod)?.[1];
}

function readCrds(dir: string, crdDirs: string[]): { file: string; crd: Crd }[] {
  const out: { file: string; crd: Crd }[] = [];
  for (const sub of crdDirs) {
    const folder = join(dir, sub);
    const files = readdirSync(folder)
      .filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml")
      .sort();
    for (const f of files) {
      for (const doc of parseAllDocuments(readFileSync(join(folder, f), "utf8"))) {
        if (doc.errors.length) throw new Error(`${sub}/${f}: ${doc.errors[0]?.message}`);
        const crd = yamlData(doc, `${sub}/${f}`) as Crd | null;
        if (crd?.kind === "CustomResourceDefinition") out.push({ file: `${sub}/${f}`, crd });
      }
    }
  }
  return out;
}

function parseArgs(argv: string[]): { pinsFrom: string; out: string } {
  let pinsFrom = REPO;
  let out = join(REPO, "generator/schemas/k8s");
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = argv[i + 1];
    if ((a === "--pins-from" || a === "--out") && value && !value.startsWith("--")) {
      if (a === "--pins-from") pinsFrom = resolve(value);
      else out = resolve(value);
      i++;
    } else {
      throw new Error(
        `unknown or incomplete option ${JSON.stringify(a)} (usage: vendor.ts [--pins-from <checkout>] [--out <dir>])`,
      );
    }
  }
  return { pinsFrom, out };
}

interface Written {
  files: Record<string, string>;
  summary: string[];
}

function generate(pinsFrom: string): Written {
  const pins = readRepoPins(pinsFrom);
  const envoyPin = pins.components["envoy-gateway"];
  let envoyGatewayApi: string | undefined;
  const dirs = new Map<string, string>();
  if (envoyPin) {
    const v = envoyPin.version.startsWith("v") ? envoyPin.version : `v${envoyPin.version}`;
    const dir = moduleDir("github.com/envoyproxy/gateway", v);
    dirs.set(`github.com/envoyproxy/gateway@${v}`, dir);
    envoyGatewayApi = requiredVersion(dir, "sigs.k8s.io/gateway-api");
  }
  const sources = sourcesFor(pins, envoyGatewayApi);
  const files: Record<string, string> = {};
  const summary: string[] = [];
  const kinds: Record<string, string> = {};
  const recorded: Record<string, unknown> = {};
  const report: Report = newReport();
  const objectMetaRef = `${CORE_DOC}#/$defs/${OBJECT_META}`;

  const dirOf = (s: Source) => {
    const id = `${s.module}@${s.moduleVersion}`;
    let dir = dirs.get(id);
    if (!dir) {
      const start = Date.now();
      dir = moduleDir(s.module, s.moduleVersion);
      dirs.set(id, dir);
      summary.push(`${id}: downloaded in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    }
    return dir;
  };

  let kubernetesVersion = "";
  let coreDefs: Record<string, Schema> = {};
  for (const s of sources) {
    const dir = dirOf(s);
    const record = {
      module: s.module,
      version: s.moduleVersion,
      ...(s.pin ? { pinnedIn: s.pin.file, pin: s.pin.version } : {}),
      ...(s.note ? { note: s.note } : {}),
    };
    if (s.component === "kubernetes") {
      kubernetesVersion = s.pin?.version ?? "";
      const specDir = join(dir, "api/openapi-spec/v3");
      const schemas: Record<string, Schema> = {};
      for (const f of readdirSync(specDir).sort()) {
        const doc = JSON.parse(readFileSync(join(specDir, f), "utf8")) as {
          components?: { schemas?: Record<string, Schema> };
        };
        for (const [name, def] of Object.entries(doc.components?.schemas ?? {})) schemas[name] ??= def;
      }
      const core = openApiKinds(schemas);
      coreDefs = kubernetesDefs(schemas, core, [OBJECT_META], report);
      for (const k of core) kinds[k.key] = `${CORE_DOC}#/$defs/${k.def}`;
      recorded[s.component] = { ...record, file: CORE_DOC, from: "api/openapi-spec/v3", kinds: core.length };
      summary.push(`${s.component}: ${core.length} kinds, ${Object.keys(coreDefs).length} definitions`);
      continue;
    }
    const crds = readCrds(dir, s.crdDirs);
    if (crds.length === 0)
      throw new Error(`${s.module}@${s.moduleVersion}: no CRDs in ${s.crdDirs.join(", ")}`);
    const defs: Record<string, Schema> = {};
    const doc = `${s.component}.json`;
    let count = 0;
    for (const { file, crd } of crds) {
      for (const k of crdKinds(crd, objectMetaRef, report)) {
        if (kinds[k.key])
          throw new Error(`${k.key} comes from two sources: ${kinds[k.key]} and ${doc} (${file})`);
        kinds[k.key] = `${doc}#/$defs/${k.def}`;
        defs[k.def] = k.schema;
        count++;
      }
    }
    if (s.component === "gateway-api") {
      const bundles = new Set(
        crds.map((c) => c.crd.metadata.annotations?.["gateway.networking.k8s.io/bundle-version"]),
      );
      if (bundles.size !== 1 || !bundles.has(s.moduleVersion)) {
        throw new Error(
          `Gateway API CRDs of ${s.moduleVersion} carry bundle-version ${[...bundles].join(", ")}`,
        );
      }
    }
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const sharedCount = shareRepeated(defs, sha);
    files[doc] =
      `${JSON.stringify({ $comment: `${s.module}@${s.moduleVersion} ${s.crdDirs.join(" ")}`, $defs: defs }, null, 1)}\n`;
    recorded[s.component] = { ...record, file: doc, from: s.crdDirs, crds: crds.length, kinds: count };
    summary.push(
      `${s.component}: ${crds.length} CRDs, ${count} served kind versions from ${s.module}@${s.moduleVersion} (${sharedCount} shared subschemas)`,
    );
  }
  files[CORE_DOC] =
    `${JSON.stringify({ $comment: `k8s.io/kubernetes api/openapi-spec/v3`, $defs: coreDefs }, null, 1)}\n`;

  const prom = prometheusVersion(pins);
  const index = {
    kubernetesVersion,
    generatedBy: "generator/tools/k8s-schemas/vendor.ts",
    sources: recorded,
    ...(prom
      ? {
          prometheus: {
            version: prom,
            module: "github.com/prometheus/prometheus",
            moduleVersion: prometheusModuleVersion(prom),
            note: "the Prometheus kube-prometheus-stack deploys: promtool and prometheus for the tests (scripts/setup-prometheus.sh)",
          },
        }
      : {}),
    kinds: Object.fromEntries(Object.entries(kinds).sort(([a], [b]) => a.localeCompare(b))),
  };
  files["index.json"] = `${JSON.stringify(index, null, 2)}\n`;
  summary.push(
    `${Object.keys(kinds).length} kinds; ${report.closed} objects closed; ${report.celRules} CEL rules not checked; ` +
      `formats dropped: ${[...report.droppedFormats].map(([f, n]) => `${f} ×${n}`).join(", ") || "none"}; ` +
      `patterns dropped (not JavaScript): ${report.droppedPatterns.length}`,
  );
  return { files, summary };
}

function main(): void {
  const { pinsFrom, out } = parseArgs(process.argv.slice(2));
  const { files, summary } = generate(pinsFrom);
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.endsWith(".json") && !(f in files)) rmSync(join(out, f));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(out, name), text);
  for (const line of summary) console.log(line);
  console.log(`→ ${relative(process.cwd(), out) || "."} (${Object.keys(files).length} files)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(e instanceof PinError ? `error: ${e.message}` : e);
    process.exitCode = 2;
  } finally {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }
}
