/**
 * `status`: what runs where. From git alone (offline): each environment's live, canary and
 * retained versions, the deploy commit, and whether rendered/ matches the version files.
 * With --live, also Argo CD's view from the cluster (sync and health of each Application).
 */
import { join, relative } from "node:path";
import { listEnvironments, loadEnvironment } from "../config.ts";
import { WmsError } from "../errors.ts";
import { commitsTouching, isGitRepo } from "../git.ts";
import { diffTrees, RENDERED_DIR, readTree } from "../output.ts";
import { renderAll } from "../pipeline.ts";
import { table } from "../table.ts";

export interface ArgoApp {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { sync?: { status?: string; revision?: string }; health?: { status?: string; message?: string } };
}

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
  const apps = opts.live ? await listArgoApps() : undefined;
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
        spec.live,
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

async function listArgoApps(): Promise<ArgoApp[]> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new WmsError("input", [
      {
        message: "no Kubernetes context for --live",
        hint: "set KUBECONFIG or run aws eks update-kubeconfig; omit --live for the git view",
      },
    ]);
  }
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const res = (await api.listNamespacedCustomObject({
    group: "argoproj.io",
    version: "v1alpha1",
    namespace: process.env.ARGOCD_NAMESPACE ?? "argocd",
    plural: "applications",
    labelSelector: "wms.example/environment",
  })) as { items: ArgoApp[] };
  return res.items;
}
