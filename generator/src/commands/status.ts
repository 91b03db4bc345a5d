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
import { type OutputFormat, report } from "../report.ts";
import { table } from "../table.ts";

export async function runStatus(opts: {
  root: string;
  envs?: string[];
  live: boolean;
  output?: OutputFormat;
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
  const docs: Record<string, unknown>[] = [];
  for (const name of names) {
    const env = loadEnvironment(opts.root, name);
    if (!env.versionFiles.length) rows.push([name, "-", "(nothing deployed)", "-", "-", "-", "-"]);
    if (!env.versionFiles.length) docs.push({ env: name, model: null, live: null });
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
      docs.push({
        env: name,
        model: spec.model,
        live: spec.live ?? null,
        canary: spec.canary ? { version: spec.canary.version, weight: spec.canary.weight } : null,
        shadow: spec.shadow ? { version: spec.shadow.version, sample: spec.shadow.sample ?? null } : null,
        retained: spec.retain ?? [],
        lastDeploy: last ? { sha: last.sha, date: last.date, subject: last.subject } : null,
        rendered: inSync === undefined ? "invalid" : inSync ? "in-sync" : "stale",
        ...(apps ? { argocd: appStates(apps, name, spec.model) } : {}),
      });
    }
  }
  const headers = ["ENV", "MODEL", "LIVE", "CANARY", "RETAINED", "LAST DEPLOY", "RENDERED"];
  out(
    report(opts.output, "status", { environments: docs }, () =>
      table(apps ? [...headers, "ARGO CD (sync/health)"] : headers, rows),
    ),
  );
}

/** One environment's and model's Applications: version ("routing" for the model app), sync, health. */
function appStates(apps: ArgoApp[], env: string, model: string) {
  return apps
    .filter(
      (a) =>
        a.metadata.labels?.["wms.example/environment"] === env &&
        a.metadata.labels?.["wms.example/model"] === model,
    )
    .map((a) => ({
      version: a.metadata.labels?.["wms.example/version"] || "routing",
      sync: a.status?.sync?.status ?? "Unknown",
      health: a.status?.health?.status ?? "Unknown",
    }))
    .sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
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
