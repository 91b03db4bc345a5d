/**
 * The hand-written inputs of one environment: environment.yaml and its version files
 * (environments/<env>/<model>.yaml). Loading validates the schema and the rules a schema
 * cannot say (duplicates, canary ≠ live), collecting every problem before failing.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import {
  instancesFitThreads,
  minMemoryLimitBytes,
  reserveBytes,
  sessionCount,
} from "../../model/serving-contract.ts";
import { inputError, type Problem, WmsError } from "./errors.ts";
import type { Precision } from "./model-card.ts";
import { MEMORY_QUANTITY, mebibytes, milliCpu } from "./quantity.ts";
import { readInputFile } from "./repo-file.ts";
import { schemaDefaults, schemaProblems } from "./schema.ts";
import { STORE_URI_HINT } from "./store/uri.ts";
import { parseYamlSource, type YamlSource } from "./yaml-source.ts";

export interface CpuMemory {
  cpu: string;
  memory: string;
}

export interface EnvironmentConfig {
  name: string;
  destination: { cluster: string; project: string };
  namespacePrefix: string;
  /** instances absent: 1 (one session); exactPreprocess absent: the decode at the model's scale */
  server: { image: string; threads: number; queue: number; instances?: number; exactPreprocess?: boolean };
  replicas: { min: number; max: number; targetCPUUtilization?: number };
  resources: { requests: CpuMemory; limits: CpuMemory };
  modelStore: { uri: string; region: string; readRoleArn: string; egressCIDRs: string[] };
  gateway: { name: string; namespace: string; sectionName?: string; hostname: string };
  monitoring: { namespace: string; serviceMonitorLabels?: Record<string, string> };
  gates: {
    allowExampleModels: boolean;
    minTestIoU: number;
    minTestDice: number;
    /** how far below fp32 (IoU, val and test) an int8 variant may score to be served */
    maxInt8IouDrop?: number;
  };
  /** which of each card's artifacts to serve; absent: int8 where its gate passes, else fp32 (plan.ts) */
  precision?: Precision;
  /** absent: no header-pinned routes */
  routing?: { versionHeaderRoutes?: boolean };
  /** `gen analyze` thresholds; absent fields take ANALYSIS_DEFAULTS */
  analysis?: Partial<AnalysisThresholds>;
  /** base URLs the Applications link to in the Argo CD UI (render/app-info.ts); absent: no links */
  links?: { grafana?: string; mlflow?: string; repository?: string };
}

export interface AnalysisThresholds {
  minSamples: number;
  maxErrorRatio: number;
  maxLatencyRatio: number;
  minMedianAgreement: number;
  minP10Agreement: number;
  maxCoverageDrift: number;
  steps: number[];
}

/** The thresholds in force: the environment's, else the schema's defaults (environment.schema.json). */
export function analysisThresholds(config: EnvironmentConfig): AnalysisThresholds {
  const defaults = schemaDefaults("environment.schema.json", [
    "properties",
    "analysis",
  ]) as unknown as AnalysisThresholds;
  return { ...defaults, ...config.analysis };
}

export interface VersionFile {
  model: string;
  /** absent: nothing takes traffic (the explicit empty state) */
  live?: string;
  canary?: { version: string; weight: number };
  /**
   * live's server copies a sample of its photos to this version and compares the masks; a
   * version of its own (deployed without user traffic), or the canary's (compared as well)
   */
  shadow?: { version: string; sample?: number };
  retain?: string[];
}

/** gates.maxInt8IouDrop when environment.yaml does not say (the schema's default) */
export const DEFAULT_MAX_INT8_IOU_DROP = schemaDefaults("environment.schema.json", ["properties", "gates"])
  .maxInt8IouDrop as number;

/** share of live's answered predictions copied to the shadow when the version file does not say */
export { DEFAULT_SHADOW_SAMPLE } from "../../model/serving-contract.ts";

/** A version file plus where it came from, so later checks (catalog, gates) can name lines. */
export interface LoadedVersionFile {
  spec: VersionFile;
  source: YamlSource;
}

export interface LoadedEnvironment {
  name: string;
  dir: string;
  config: EnvironmentConfig;
  configFile: string;
  versionFiles: LoadedVersionFile[];
}

export const ENVIRONMENT_FILE = "environment.yaml";

const VERSION_HINTS: Record<string, string> = {
  "canary.weight": "the canary's share of traffic in percent: an integer from 1 to 99 (remove canary for 0)",
  live: 'a semantic version such as "1.4.0" (quote it if YAML reads it as a number)',
  "canary.version": 'a semantic version such as "1.5.0"',
  "retain[]": 'a list of semantic versions, e.g. ["1.3.0"]',
  "shadow.version": 'a semantic version such as "1.5.0"',
  "shadow.sample": "the share of live's answered photos copied to the shadow: a number in (0, 1], e.g. 0.1",
  "(top level)":
    "a version file names its model; a canary splits traffic with live and a shadow is compared with live, so both need live (nothing live yet: deploy the version live, or keep it in retain)",
};

const ENVIRONMENT_HINTS: Record<string, string> = { "modelStore.uri": STORE_URI_HINT };

/** Environment names in a stable order: the folders under environments/ holding environment.yaml. */
export function listEnvironments(root: string): string[] {
  const envRoot = join(root, "environments");
  if (!existsSync(envRoot)) return [];
  return readdirSync(envRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(envRoot, d.name, ENVIRONMENT_FILE)))
    .map((d) => d.name)
    .sort();
}

/**
 * Version files given as text instead of read from the environment's folder, by file name
 * (wms.yaml → its text): what a change would write, rendered before anything is written.
 */
export type VersionTexts = ReadonlyMap<string, string>;

export function loadEnvironment(
  root: string,
  name: string,
  versionTexts: VersionTexts = new Map(),
): LoadedEnvironment {
  const dir = join(root, "environments", name);
  const rel = (f: string) => relative(root, f);
  const problems: Problem[] = [];
  const configFile = join(dir, ENVIRONMENT_FILE);
  if (!existsSync(configFile)) {
    throw inputError([
      {
        file: rel(configFile),
        message: "missing",
        hint: `create it (copy environments/dev/${ENVIRONMENT_FILE})`,
      },
    ]);
  }
  const configSrc = collect(problems, () =>
    parseYamlSource(readInputFile(configFile, { root }), rel(configFile)),
  );
  if (configSrc) {
    problems.push(...schemaProblems("environment.schema.json", configSrc, ENVIRONMENT_HINTS));
    const c = configSrc.data as EnvironmentConfig;
    if (c?.name !== undefined && c.name !== name) {
      problems.push({
        file: configSrc.file,
        line: configSrc.lineOf(["name"]),
        field: "name",
        message: `is "${c.name}" but the folder is environments/${name}`,
        hint: `set name: ${name}`,
      });
    }
    // More inference threads than the CPU limit only buys throttling (CFS quota).
    const cpuLimit = c?.resources?.limits?.cpu;
    if (c?.server?.threads && typeof cpuLimit === "string") {
      const cores = milliCpu(cpuLimit) / 1000;
      if (c.server.threads > Math.max(1, Math.ceil(cores))) {
        problems.push({
          file: configSrc.file,
          line: configSrc.lineOf(["server", "threads"]),
          field: "server.threads",
          message: `${c.server.threads} inference threads exceed the CPU limit of ${cpuLimit}`,
          hint: `set server.threads to at most ${Math.max(1, Math.ceil(cores))} or raise resources.limits.cpu`,
        });
      }
    }
    // Each of the server's sessions needs an inference thread (session-pool.ts).
    const instances = c?.server?.instances ?? 1;
    if (c?.server?.threads && !instancesFitThreads(instances, c.server.threads)) {
      problems.push({
        file: configSrc.file,
        line: configSrc.lineOf(["server", "instances"]),
        field: "server.instances",
        message: `${instances} sessions side by side need a thread each, but server.threads is ${c.server.threads}`,
        hint: `set server.instances to at most ${c.server.threads} (or remove it: 1)`,
      });
    }
    // The server keeps a fixed reserve out of its memory limit (the serving contract,
    // model/serving-contract.ts), larger by one model and arena per extra session.
    const sessions = sessionCount(instances);
    const memLimit = c?.resources?.limits?.memory;
    if (typeof memLimit === "string" && MEMORY_QUANTITY.test(memLimit)) {
      const bytes = mebibytes(memLimit) * 2 ** 20;
      if (bytes < minMemoryLimitBytes(sessions)) {
        problems.push({
          file: configSrc.file,
          line: configSrc.lineOf(["resources", "limits", "memory"]),
          field: "resources.limits.memory",
          message:
            `${memLimit} leaves the model server nothing for requests after its ${reserveBytes(sessions) / 2 ** 20} MiB reserve` +
            (sessions > 1
              ? ` (${sessions} sessions: server.instances ${instances} and one for lone requests)`
              : ""),
          hint: `set resources.limits.memory to at least ${minMemoryLimitBytes(sessions) / 2 ** 20}Mi${sessions > 1 ? " or lower server.instances" : ""}`,
        });
      }
    }
    if (c?.replicas && c.replicas.min > c.replicas.max) {
      problems.push({
        file: configSrc.file,
        line: configSrc.lineOf(["replicas", "min"]),
        field: "replicas.min",
        message: `${c.replicas.min} is greater than replicas.max ${c.replicas.max}`,
        hint: "make min <= max",
      });
    }
  }

  const versionFiles: LoadedVersionFile[] = [];
  const seenModels = new Map<string, string>();
  for (const f of [...new Set([...readdirSync(dir), ...versionTexts.keys()])].sort()) {
    if (!/\.ya?ml$/.test(f) || f === ENVIRONMENT_FILE) continue;
    const file = join(dir, f);
    const text = versionTexts.get(f);
    const src = collect(problems, () => parseYamlSource(text ?? readInputFile(file, { root }), rel(file)));
    if (!src) continue;
    const before = problems.length;
    problems.push(...schemaProblems("version-file.schema.json", src, VERSION_HINTS));
    if (problems.length > before) continue;
    const spec = src.data as VersionFile;
    problems.push(...versionRuleProblems(spec, src, f));
    const other = seenModels.get(spec.model);
    if (other) {
      problems.push({
        file: src.file,
        line: src.lineOf(["model"]),
        field: "model",
        message: `model "${spec.model}" is already deployed by ${other}`,
        hint: "keep one version file per model and environment",
      });
    }
    seenModels.set(spec.model, src.file);
    versionFiles.push({ spec, source: src });
  }
  if (problems.length) throw inputError(problems, `environment ${name} has ${problems.length} problem(s)`);
  return {
    name,
    dir,
    config: configSrc?.data as EnvironmentConfig,
    configFile: rel(configFile),
    versionFiles,
  };
}

/** Rules the JSON Schema cannot express: every version at most once, canary differs from live. */
function versionRuleProblems(spec: VersionFile, src: YamlSource, fileName: string): Problem[] {
  const problems: Problem[] = [];
  const expected = fileName.replace(/\.ya?ml$/, "");
  if (spec.model !== expected) {
    problems.push({
      file: src.file,
      line: src.lineOf(["model"]),
      field: "model",
      message: `is "${spec.model}" but the file is named ${fileName}`,
      hint: `rename the file to ${spec.model}.yaml or set model: ${expected}`,
    });
  }
  if (spec.canary && spec.canary.version === spec.live) {
    problems.push({
      file: src.file,
      line: src.lineOf(["canary", "version"]),
      field: "canary.version",
      message: `canary ${spec.canary.version} is the same version as live`,
      hint: "point canary at the new version, or remove canary to send all traffic to live",
    });
  }
  const seen = new Map<string, string>(spec.live ? [[spec.live, "live"]] : []);
  if (spec.canary && spec.canary.version !== spec.live) seen.set(spec.canary.version, "canary.version");
  // shadow = the canary: live also copies photos to the canary, so its masks are compared too
  if (spec.shadow && spec.shadow.version !== spec.canary?.version) {
    const first = seen.get(spec.shadow.version);
    if (first) {
      problems.push({
        file: src.file,
        line: src.lineOf(["shadow", "version"]),
        field: "shadow.version",
        message: `shadow ${spec.shadow.version} is already named by ${first}`,
        hint: "a shadow is compared with live: name another version (deployed only as the shadow)",
      });
    } else seen.set(spec.shadow.version, "shadow.version");
  }
  (spec.retain ?? []).forEach((v, i) => {
    const first = seen.get(v);
    if (first) {
      problems.push({
        file: src.file,
        line: src.lineOf(["retain", i]),
        field: `retain[${i}]`,
        message: `duplicate version ${v} (already named by ${first})`,
        hint: "name each version once: live, canary and retain are disjoint",
      });
    } else seen.set(v, `retain[${i}]`);
  });
  return problems;
}

/** Run `fn`, turning a thrown WmsError into collected problems so all files get reported. */
function collect<T>(problems: Problem[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof WmsError) {
      problems.push(...e.problems);
      return undefined;
    }
    throw e;
  }
}

/** Every version a version file deploys, with its role. */
export function deployedVersions(
  spec: VersionFile,
): { version: string; role: "live" | "canary" | "shadow" | "retained" }[] {
  return [
    ...(spec.live ? [{ version: spec.live, role: "live" as const }] : []),
    ...(spec.canary ? [{ version: spec.canary.version, role: "canary" as const }] : []),
    ...(spec.shadow && spec.shadow.version !== spec.canary?.version
      ? [{ version: spec.shadow.version, role: "shadow" as const }]
      : []),
    ...(spec.retain ?? []).map((version) => ({ version, role: "retained" as const })),
  ];
}
