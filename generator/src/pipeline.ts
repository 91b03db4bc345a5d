/**
 * Load → plan → render for every environment, collecting the problems of all environments
 * before failing, so one run reports everything that is wrong.
 */
import { admissionProblems, loadPolicies } from "./admission.ts";
import { type Catalog, loadCatalog } from "./catalog.ts";
import { listEnvironments, loadEnvironment, type VersionTexts } from "./config.ts";
import { inputError, type Problem, WmsError } from "./errors.ts";
import { type EnvironmentPlan, planEnvironment } from "./plan.ts";
import { type RenderedFiles, type RenderedObject, renderEnvironment } from "./render/index.ts";
import { validateRendered } from "./validation.ts";

export interface EnvironmentRender {
  name: string;
  dir: string;
  plan: EnvironmentPlan;
  files: RenderedFiles;
  objects: RenderedObject[];
}

/** `versionTexts`: per environment, version files given as text instead of read (config.ts). */
export function renderAll(
  root: string,
  only?: string[],
  versionTexts: Readonly<Record<string, VersionTexts>> = {},
): { catalog: Catalog; envs: EnvironmentRender[] } {
  const catalog = loadCatalog(root);
  const names = listEnvironments(root);
  for (const n of only ?? []) {
    if (!names.includes(n)) {
      throw inputError([
        {
          message: `unknown environment "${n}"`,
          hint: `one of: ${names.join(", ") || "(none: create environments/<env>/environment.yaml)"}`,
        },
      ]);
    }
  }
  const policies = loadPolicies(root);
  const problems: Problem[] = [];
  const envs: EnvironmentRender[] = [];
  for (const name of only?.length ? only : names) {
    try {
      const plan = planEnvironment(loadEnvironment(root, name, versionTexts[name]), catalog);
      const { files, objects } = renderEnvironment(plan);
      problems.push(...validateRendered(`environments/${name}/rendered`, objects));
      // What the cluster's admission policies would refuse must not reach git either.
      problems.push(
        ...admissionProblems(
          policies,
          objects.map((o) => ({ ...o, file: `environments/${name}/rendered/${o.file}` })),
        ),
      );
      envs.push({ name, dir: plan.env.dir, plan, files, objects });
    } catch (e) {
      if (e instanceof WmsError) problems.push(...e.problems);
      else throw e;
    }
  }
  if (problems.length) throw inputError(problems, `${problems.length} problem(s); nothing was written`);
  return { catalog, envs };
}
