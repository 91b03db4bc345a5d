/** `render` and `render --check`: write (or compare) every environment's rendered/ folder. */
import { join, relative } from "node:path";
import { type Problem, WmsError } from "../errors.ts";
import { diffTrees, RENDERED_DIR, readTree, writeRendered } from "../output.ts";
import { type EnvironmentRender, renderAll } from "../pipeline.ts";
import { fmtMetric, shortDigest, table } from "../table.ts";

export interface RenderOptions {
  root: string;
  check: boolean;
  envs?: string[];
  out?: (line: string) => void;
}

export interface RenderResult {
  /** env → folders added / removed / changed, relative to rendered/ */
  changes: Map<string, { added: string[]; removed: string[]; changed: string[] }>;
}

export function runRender(opts: RenderOptions): RenderResult {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const { envs } = renderAll(opts.root, opts.envs);
  const changes: RenderResult["changes"] = new Map();
  const stale: string[] = [];
  for (const env of envs) {
    const dir = join(env.dir, RENDERED_DIR);
    const committed = readTree(dir);
    changes.set(env.name, folderChanges(committed, env.files));
    if (opts.check) stale.push(...diffTrees(relative(opts.root, dir), committed, env.files));
    else writeRendered(env.dir, env.files);
  }
  out(summary(envs, changes));
  if (opts.check) {
    if (stale.length) {
      out("");
      for (const d of stale) out(d);
      const problem: Problem = {
        message: `rendered output is stale in ${stale.length} file(s) (diff above: committed → rendered)`,
        hint: "run `npm run render` and commit the result together with the version file",
      };
      throw new WmsError("stale", [problem]);
    }
    out("\nrender --check: committed output is up to date.");
  }
  return { changes };
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
    if (!env.plan.models.length) rows.push([env.name, "-", "(nothing deployed)", "-", "-", "-", "-", what]);
    for (const mp of env.plan.models) {
      const live = mp.versions.find((v) => v.role === "live");
      const canary = mp.versions.find((v) => v.role === "canary");
      const retained = mp.versions.filter((v) => v.role === "retained").map((v) => v.version);
      const card = live?.entry.card;
      rows.push([
        env.name,
        mp.model,
        `${live?.version ?? "-"}${card?.example ? " (example)" : ""}`,
        canary ? `${canary.version} @${canary.weight}%` : "-",
        retained.join(",") || "-",
        `${fmtMetric(card?.metrics.test.iou)}/${fmtMetric(card?.metrics.test.dice)}`,
        card ? shortDigest(card.artifact.sha256) : "-",
        what,
      ]);
    }
  }
  return table(
    ["ENV", "MODEL", "LIVE", "CANARY", "RETAINED", "TEST IOU/DICE", "MODEL DIGEST", "CHANGES"],
    rows,
  );
}
