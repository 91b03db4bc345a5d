/**
 * `status`: what runs where. From git alone (offline): each environment's live, canary and
 * retained versions, the deploy commit, and whether rendered/ matches the version files.
 * With --live, also Argo CD's view from the cluster (sync and health of each Application).
 */
import { join, relative } from "node:path";
import { type ArgoApp, connectArgo } from "../argo.ts";
import { listEnvironments, loadEnvironment } from "../config.ts";
import { WmsError } from "../errors.ts";
import { commitsTouching, isGitRepo } from "../git.ts";
import { diffTrees, RENDERED_DIR, readTree } from "../output.ts";
import { renderAll } from "../pipeline.ts";
import { table } from "../table.ts";

export async function runStatus(opts: {
  root: string;
  envs?: string[];
  live: boolean;
  out?: (l: string) => void;
}): Promise<void> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const names = opts.envs?.length ? opts.envs : listEnvironments(opts.root);
  const git = await isGitRepo(opts.root);
  let rendered: Map<string, boolean> | undefined;
  try {
    rendered = new Map(
      renderAll(opts.root, names).envs.map((e) => [
        e.name,
        diffTrees("", readTree(join(e.dir, RENDERED_DIR)), e.files).length === 0,
      ]),
    );
  } catch (e) {
    if (!(e instanceof WmsError)) throw e;
  }
  const apps = opts.live ? await (await connectArgo("status --live")).list() : undefined;
  const rows: string[][] = [];
  for (const name of names) {
    const env = loadEnvironment(opts.root, name);
    if (!env.versionFiles.length) rows.push([name, "-", "(nothing deployed)", "-", "-", "-", "-"]);
    for (const { spec, source } of env.versionFiles) {
      const [last] = git
        ? await commitsTouching(opts.root, relative(opts.root, join(opts.root, source.file)), 1)
        : [];
      const inSync = rendered?.get(name);
      const row = [
        name,
        spec.model,
        spec.live ?? "(none)",
        spec.canary ? `${spec.canary.version} @${spec.canary.weight}%` : "-",
        spec.retain?.join(",") || "-",
        last ? `${last.sha} ${last.date.slice(0, 10)} ${last.subject}` : "(uncommitted)",
        inSync === undefined ? "INVALID (run render)" : inSync ? "yes" : "STALE (run render)",
      ];
      if (apps) row.push(summariseApps(apps, name, spec.model));
      rows.push(row);
    }
  }
  const headers = ["ENV", "MODEL", "LIVE", "CANARY", "RETAINED", "LAST DEPLOY", "RENDERED"];
  out(table(apps ? [...headers, "ARGO CD (sync/health)"] : headers, rows));
}

/** "1.4.0 Synced/Healthy, 1.5.0 OutOfSync/Progressing" for one environment and model. */
export function summariseApps(apps: ArgoApp[], env: string, model: string): string {
  const mine = apps.filter(
    (a) =>
      a.metadata.labels?.["wms.example/environment"] === env &&
      a.metadata.labels?.["wms.example/model"] === model,
  );
  if (!mine.length) return "no Applications";
  return mine
    .map((a) => {
      const v = a.metadata.labels?.["wms.example/version"] || "routing";
      return `${v} ${a.status?.sync?.status ?? "Unknown"}/${a.status?.health?.status ?? "Unknown"}`;
    })
    .sort()
    .join(", ");
}
