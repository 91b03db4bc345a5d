/** `render` and `render --check`: write (or compare) every environment's rendered/ folder. */
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { ENVIRONMENT_FILE, listEnvironments, type VersionTexts } from "../config.ts";
import { inputError, type Problem, WmsError } from "../errors.ts";
import { diffTrees, RENDERED_DIR, readTree, writeRendered } from "../output.ts";
import { type EnvironmentRender, renderAll } from "../pipeline.ts";
import { APP_PARAMS_FILE, type AppParams, type RenderedFiles } from "../render/index.ts";
import { allowEmptyHint, EMPTYING_TEXT, emptyingOf } from "../safety.ts";
import { fmtMetric, shortDigest, table } from "../table.ts";
import { conflictMarkerLine } from "../yaml-source.ts";

export interface RenderOptions {
  root: string;
  check: boolean;
  envs?: string[];
  /** environments that may end up with nothing deployed (or nothing live) */
  allowEmpty?: string[];
  /** per environment, version files rendered from this text instead of the file (config.ts) */
  versionTexts?: Readonly<Record<string, VersionTexts>>;
  out?: (line: string) => void;
}

export interface RenderResult {
  /** env → folders added / removed / changed, relative to rendered/ */
  changes: Map<string, { added: string[]; removed: string[]; changed: string[] }>;
}

export function runRender(opts: RenderOptions): RenderResult {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const { envs } = renderAll(opts.root, opts.envs, opts.versionTexts);
  const changes: RenderResult["changes"] = new Map();
  const stale: string[] = [];
  const problems: Problem[] = [];
  for (const env of envs) {
    const dir = join(env.dir, RENDERED_DIR);
    const committed = readTree(dir);
    changes.set(env.name, folderChanges(committed, env.files));
    if (!opts.allowEmpty?.includes(env.name))
      problems.push(...emptyingProblems(opts.root, env, committed, opts.versionTexts?.[env.name]));
    if (opts.check) {
      stale.push(...diffTrees(relative(opts.root, dir), committed, env.files));
      problems.push(...conflictProblems(relative(opts.root, dir), committed));
    }
  }
  // every environment rendered (no --env): nothing under environments/ that render did not write
  if (opts.check && !opts.envs?.length) problems.push(...strayProblems(opts.root));
  if (problems.some((p) => !p.message.startsWith(CONFLICT) && !p.message.startsWith(STRAY))) {
    throw inputError(problems, `${problems.length} problem(s); nothing was written`);
  }
  if (!opts.check) for (const env of envs) writeRendered(env.dir, env.files);
  out(summary(envs, changes));
  if (opts.check) {
    if (stale.length || problems.length) {
      out("");
      for (const d of stale) out(d);
      if (stale.length)
        problems.push({
          message: `rendered output is stale in ${stale.length} file(s) (diff above: committed → rendered)`,
          hint: "run `npm run render` and commit the result together with the version file (after a git revert or merge that conflicted in rendered/: resolve only the version file, rendered/ is generated; `npm run gen -- rollback` never conflicts)",
        });
      throw new WmsError("stale", problems);
    }
    out("\nrender --check: committed output is up to date.");
  }
  return { changes };
}

const CONFLICT = "unresolved merge conflict";
const STRAY = "not written by render";

/** Debris of an interrupted render (output.ts sweeps it on the next render). */
const DEBRIS = /^\.rendered\.(tmp|old)-\d+-\d+$/;

/**
 * What lies under environments/ that render neither reads nor writes: a folder without
 * environment.yaml (its rendered/ would be checked by nobody), and in an environment's folder
 * anything but environment.yaml, version files (*.yaml) and rendered/. Inside rendered/ the
 * diff against fresh output already names every extra file and folder. Issue 28: a hand-made
 * environments/x/rendered/y/app.json was deployed and never checked.
 */
function strayProblems(root: string): Problem[] {
  const envRoot = join(root, "environments");
  if (!existsSync(envRoot)) return [];
  const envs = new Set(listEnvironments(root));
  const stray = (path: string, what: string): Problem => ({
    file: path,
    message: `${STRAY}: ${what}`,
    hint: `remove it (git rm -r ${path}); environments/ holds environments/<env>/${ENVIRONMENT_FILE}, version files and the rendered/ that \`npm run render\` writes`,
  });
  const problems: Problem[] = [];
  for (const entry of readdirSync(envRoot, { withFileTypes: true })) {
    const path = `environments/${entry.name}`;
    if (!envs.has(entry.name)) {
      problems.push(
        stray(
          path,
          entry.isDirectory()
            ? `a folder without ${ENVIRONMENT_FILE} (no environment renders it)`
            : "a file beside the environments",
        ),
      );
      continue;
    }
    for (const e of readdirSync(join(envRoot, entry.name), { withFileTypes: true })) {
      const ok =
        (e.isDirectory() && (e.name === RENDERED_DIR || DEBRIS.test(e.name))) ||
        (e.isFile() && /\.ya?ml$/.test(e.name));
      if (!ok)
        problems.push(
          stray(`${path}/${e.name}`, `neither ${ENVIRONMENT_FILE}, a version file nor ${RENDERED_DIR}/`),
        );
    }
  }
  return problems;
}

/** Committed rendered files holding git conflict markers: a revert or merge that did not apply. */
function conflictProblems(dir: string, committed: RenderedFiles): Problem[] {
  const found: Problem[] = [];
  for (const [path, text] of committed) {
    const line = conflictMarkerLine(text);
    if (line) {
      found.push({
        file: `${dir}/${path}`,
        line,
        message: `${CONFLICT} in generated output (a git revert or merge of a deploy commit could not apply cleanly, e.g. after an image bump re-rendered the same files)`,
        hint: "rendered/ is generated: keep the version file as the revert left it, run `npm run render` and commit the result; `npm run gen -- rollback --env <env>` does this without conflicts",
      });
    }
  }
  return found;
}

/** What each model's committed rendered folders deploy: versions and whether it has a route
 * (an HTTPRoute in its model folder; while nothing is live that folder holds only Namespaces). */
function deployedByModel(files: RenderedFiles): Map<string, { versions: string[]; routed: boolean }> {
  const byModel = new Map<string, { versions: string[]; routed: boolean }>();
  const routedFolders = new Set(
    [...files.keys()].filter((p) => /^[^/]+\/httproute\.[^/]+\.yaml$/.test(p)).map(folderOf),
  );
  for (const [path, text] of files) {
    if (!path.endsWith(`/${APP_PARAMS_FILE}`)) continue;
    let p: Partial<AppParams>;
    try {
      p = JSON.parse(text) as Partial<AppParams>;
    } catch {
      continue;
    }
    if (!p.model) continue;
    const m = byModel.get(p.model) ?? { versions: [], routed: false };
    if (p.component === "routing") m.routed = routedFolders.has(folderOf(path));
    else if (p.version) m.versions.push(p.version);
    byModel.set(p.model, m);
  }
  return byModel;
}

/** Rule 2 of safety.ts against what is rendered now: never empty an environment by accident. */
function emptyingProblems(
  root: string,
  env: EnvironmentRender,
  committed: RenderedFiles,
  versionTexts: VersionTexts | undefined,
): Problem[] {
  const before = deployedByModel(committed);
  const after = deployedByModel(env.files);
  const problems: Problem[] = [];
  for (const [model, was] of before) {
    const now = after.get(model);
    // live: routed (while nothing is live the model folder has no HTTPRoute)
    const kind = emptyingOf(
      { deployed: was.versions.length > 0, live: was.routed },
      { deployed: Boolean(now?.versions.length), live: Boolean(now?.routed) },
    );
    if (!kind) continue;
    const file = relative(root, join(env.dir, `${model}.yaml`));
    const gone = !existsSync(join(root, file)) && !versionTexts?.has(`${model}.yaml`);
    problems.push({
      file,
      message: `${EMPTYING_TEXT[kind]} of ${model} in ${env.name}${gone ? " (the version file is gone)" : ""}; rendered/ deploys ${was.versions.join(", ") || "nothing"}${was.routed ? " with a route" : ""}`,
      hint: allowEmptyHint(env.name),
    });
  }
  return problems;
}

const folderOf = (p: string) => p.split("/")[0] ?? p;

function folderChanges(committed: Map<string, string>, expected: Map<string, string>) {
  const before = new Set([...committed.keys()].map(folderOf));
  const after = new Set([...expected.keys()].map(folderOf));
  const changed = new Set<string>();
  for (const p of new Set([...committed.keys(), ...expected.keys()])) {
    const f = folderOf(p);
    if (before.has(f) && after.has(f) && committed.get(p) !== expected.get(p)) changed.add(f);
  }
  return {
    added: [...after].filter((f) => !before.has(f)).sort(),
    removed: [...before].filter((f) => !after.has(f)).sort(),
    changed: [...changed].sort(),
  };
}

function summary(envs: EnvironmentRender[], changes: RenderResult["changes"]): string {
  const rows: string[][] = [];
  for (const env of envs) {
    const ch = changes.get(env.name);
    const what = ch
      ? [
          ...ch.added.map((f) => `+${f}`),
          ...ch.removed.map((f) => `-${f}`),
          ...ch.changed.map((f) => `~${f}`),
        ].join(" ") || "unchanged"
      : "";
    if (!env.plan.models.length)
      rows.push([env.name, "-", "(nothing deployed)", "-", "-", "-", "-", "-", what]);
    for (const mp of env.plan.models) {
      const live = mp.versions.find((v) => v.role === "live");
      const canary = mp.versions.find((v) => v.role === "canary");
      const shadow = mp.shadow;
      const retained = mp.versions.filter((v) => v.role === "retained").map((v) => v.version);
      const card = live?.entry.card;
      rows.push([
        env.name,
        mp.model,
        `${live?.version ?? "-"}${card?.example ? " (example)" : ""}`,
        [
          ...(canary ? [`${canary.version} @${canary.weight}%`] : []),
          ...(shadow ? [`shadow ${shadow.version} (${Math.round(shadow.sample * 100)}% copied)`] : []),
        ].join(", ") || "-",
        retained.join(",") || "-",
        // what is served: at precision int8, the int8 variant's scores and digest
        `${fmtMetric(live?.served.metrics.test.iou)}/${fmtMetric(live?.served.metrics.test.dice)}`,
        live ? shortDigest(live.served.artifact.sha256) : "-",
        // each deployed version's precision, and why (the setting, or the int8 gate's numbers)
        mp.versions.map((v) => `${v.version} ${v.served.precision} (${v.servedBecause})`).join("; ") || "-",
        what,
      ]);
    }
  }
  return table(
    ["ENV", "MODEL", "LIVE", "CANARY", "RETAINED", "TEST IOU/DICE", "MODEL DIGEST", "SERVES", "CHANGES"],
    rows,
  );
}
