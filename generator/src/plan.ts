/**
 * Resolve an environment's version files against the catalog and the environment's quality
 * gates. The result (a Plan) is all rendering needs; every problem names the version file
 * line that caused it.
 */
import type { Catalog, CatalogEntry } from "./catalog.ts";
import {
  DEFAULT_MAX_INT8_IOU_DROP,
  DEFAULT_SHADOW_SAMPLE,
  deployedVersions,
  type LoadedEnvironment,
} from "./config.ts";
import { inputError, type Problem } from "./errors.ts";
import { artifactAt, type CardArtifact, int8IouDrop } from "./model-card.ts";

export type Role = "live" | "canary" | "shadow" | "retained";

export interface PlannedVersion {
  model: string;
  version: string;
  role: Role;
  /** percent of traffic; 0 for retained versions */
  weight: number;
  entry: CatalogEntry;
  /** the card's artifact this environment serves (its `precision`) */
  served: CardArtifact;
  /** why that artifact, in a few words (render's summary): the setting, or the int8 gate's numbers */
  servedBecause: string;
}

export interface ModelPlan {
  model: string;
  versionFile: string;
  versions: PlannedVersion[];
  /**
   * the version live's server copies photos to (the shadow, or the canary), and the share: the
   * version file's, or the serving contract's default, applied here once
   */
  shadow?: { version: string; sample: number };
}

export interface EnvironmentPlan {
  env: LoadedEnvironment;
  models: ModelPlan[];
}

export function planEnvironment(env: LoadedEnvironment, catalog: Catalog): EnvironmentPlan {
  const problems: Problem[] = [];
  const { modelStore } = env.config;
  const models: ModelPlan[] = [];
  for (const { spec, source } of env.versionFiles) {
    const releases = catalog.get(spec.model);
    if (!releases) {
      problems.push({
        file: source.file,
        line: source.lineOf(["model"]),
        field: "model",
        message: `unknown model "${spec.model}": no model/releases/${spec.model}/`,
        hint: `publish a version first (npm run gen -- publish --model … --card …) or fix the name; known: ${[...catalog.keys()].join(", ") || "none"}`,
      });
      continue;
    }
    const versions: PlannedVersion[] = [];
    for (const { version, role } of deployedVersions(spec)) {
      const path =
        role === "live"
          ? ["live"]
          : role === "canary"
            ? ["canary", "version"]
            : role === "shadow"
              ? ["shadow", "version"]
              : ["retain", (spec.retain ?? []).indexOf(version)];
      const where = {
        file: source.file,
        line: source.lineOf(path),
        field: path.join(".").replace(/\.(\d+)/, "[$1]"),
      };
      const entry = releases.get(version);
      if (!entry) {
        problems.push({
          ...where,
          message: `unknown version ${version}: no model/releases/${spec.model}/${version}/model-card.json`,
          hint: `publish it first, or pick a published version: ${[...releases.keys()].join(", ") || "none"}`,
        });
        continue;
      }
      const weight =
        role === "live"
          ? 100 - (spec.canary?.weight ?? 0)
          : role === "canary"
            ? (spec.canary?.weight ?? 0)
            : 0;
      const served = servedArtifact(env, entry, version, where);
      if (!served.ok) {
        problems.push(served.problem);
        continue;
      }
      // gates guard user traffic: a shadow gets none (its masks are only compared)
      if (role === "live" || role === "canary") {
        problems.push(...gateProblems(env, served.artifact, entry, version, where));
      }
      const { uri } = served.artifact.artifact;
      if (!uri.startsWith(`${modelStore.uri.replace(/\/$/, "")}/`)) {
        problems.push({
          ...where,
          message: `${version}'s ${served.artifact.precision} artifact ${uri} is outside this environment's model store ${modelStore.uri}`,
          hint: `publish the version to ${modelStore.uri} or change modelStore.uri in ${env.configFile}`,
        });
      }
      versions.push({
        model: spec.model,
        version,
        role,
        weight,
        entry,
        served: served.artifact,
        servedBecause: served.because,
      });
    }
    models.push({
      model: spec.model,
      versionFile: source.file,
      versions,
      ...(spec.shadow
        ? { shadow: { version: spec.shadow.version, sample: spec.shadow.sample ?? DEFAULT_SHADOW_SAMPLE } }
        : {}),
    });
  }
  if (problems.length) throw inputError(problems, `environment ${env.name} cannot be rendered`);
  return { env, models };
}

/**
 * The artifact the environment serves. int8 only where the card has an int8 variant scoring
 * within `gates.maxInt8IouDrop` of fp32 on both val and test. Without `precision` that is the
 * choice: int8 where the gate passes, fp32 otherwise (no variant, or one that drops more), and
 * render says which and why. `precision: fp32` always serves fp32; `precision: int8` requires
 * a passing int8 variant and refuses the version otherwise.
 */
function servedArtifact(
  env: LoadedEnvironment,
  entry: CatalogEntry,
  version: string,
  where: Pick<Problem, "file" | "line" | "field">,
): { ok: true; artifact: CardArtifact; because: string } | { ok: false; problem: Problem } {
  const { card } = entry;
  const tolerance = env.config.gates.maxInt8IouDrop ?? DEFAULT_MAX_INT8_IOU_DROP;
  const fp32 = artifactAt(card, "fp32") as CardArtifact;
  if (env.config.precision === undefined) {
    const int8 = artifactAt(card, "int8");
    const drop = int8IouDrop(card);
    if (!int8 || !drop) return { ok: true, artifact: fp32, because: "no int8 variant" };
    const over = (["val", "test"] as const).find((s) => drop[s] > tolerance);
    if (over) {
      return {
        ok: true,
        artifact: fp32,
        because: `int8 ${over} IoU drop ${drop[over].toFixed(4)} > ${tolerance}`,
      };
    }
    return {
      ok: true,
      artifact: int8,
      because: `int8 IoU drop ${drop.val.toFixed(4)} val, ${drop.test.toFixed(4)} test <= ${tolerance}`,
    };
  }
  const precision = env.config.precision;
  const chosen = artifactAt(card, precision);
  const refuse = (message: string, hint: string) => ({
    ok: false as const,
    problem: { ...where, message: `precision gate of ${env.name}: ${message}`, hint },
  });
  if (!chosen) {
    return refuse(
      `${env.configFile} sets precision: ${precision}, and ${version}'s card has no ${precision} artifact (variants.${precision})`,
      `quantize and publish ${version}'s int8 variant (model/training/README.md, "int8"), or set precision: fp32`,
    );
  }
  const drop = precision === "int8" ? int8IouDrop(card) : undefined;
  if (drop) {
    for (const split of ["val", "test"] as const) {
      if (drop[split] > tolerance) {
        return refuse(
          `${version}'s int8 ${split} IoU ${chosen.metrics[split].iou.toFixed(4)} is ${drop[split].toFixed(4)} below fp32's ${card.metrics[split].iou.toFixed(4)} (variants.int8.metrics.${split}.iou; tolerance gates.maxInt8IouDrop ${tolerance})`,
          `serve ${version} at fp32 (precision: fp32 in ${env.configFile}), or publish an int8 variant calibrated to within ${tolerance}`,
        );
      }
    }
  }
  return { ok: true, artifact: chosen, because: `precision: ${precision} in ${env.configFile}` };
}

function gateProblems(
  env: LoadedEnvironment,
  served: CardArtifact,
  entry: CatalogEntry,
  version: string,
  where: Pick<Problem, "file" | "line" | "field">,
): Problem[] {
  const { gates } = env.config;
  const problems: Problem[] = [];
  // the quality gates judge what is served: at int8, the int8 variant's own scores
  const card = { ...entry.card, metrics: served.metrics };
  const gate = (message: string, hint: string) =>
    problems.push({ ...where, message: `quality gate of ${env.name}: ${message}`, hint });
  if (card.example && !gates.allowExampleModels) {
    gate(
      `${version} is an example (untrained placeholder) card`,
      `deploy a trained release; ${env.configFile} sets gates.allowExampleModels: false`,
    );
  }
  if (card.metrics.test.iou < gates.minTestIoU) {
    gate(
      `${version} has test IoU ${card.metrics.test.iou} < required ${gates.minTestIoU}`,
      `deploy a version whose test IoU is at least ${gates.minTestIoU} (see npm run gen -- versions)`,
    );
  }
  if (card.metrics.test.dice < gates.minTestDice) {
    gate(
      `${version} has test Dice ${card.metrics.test.dice} < required ${gates.minTestDice}`,
      `deploy a version whose test Dice is at least ${gates.minTestDice}`,
    );
  }
  return problems;
}
