/**
 * Argo CD's view of the cluster, read through the Kubernetes API (@kubernetes/client-node,
 * current kube context): the Applications the ApplicationSet made from rendered folders, and
 * waiting for one to be Synced to a commit and Healthy. ARGOCD_NAMESPACE overrides the
 * namespace (default argocd).
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { inputError } from "./errors.ts";

export interface ArgoApp {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { sync?: { status?: string; revision?: string }; health?: { status?: string; message?: string } };
}

const APPS = {
  group: "argoproj.io",
  version: "v1alpha1",
  plural: "applications",
  namespace: () => process.env.ARGOCD_NAMESPACE ?? "argocd",
};

export interface Argo {
  list(): Promise<ArgoApp[]>;
  get(name: string): Promise<ArgoApp | undefined>;
}

/** A client for the current kube context, checked to answer; a clear error when there is none. */
export async function connectArgo(why: string): Promise<Argo> {
  const configs = (process.env.KUBECONFIG ?? join(homedir(), ".kube", "config"))
    .split(delimiter)
    .filter(Boolean);
  if (!configs.some((f) => existsSync(f)) && !process.env.KUBERNETES_SERVICE_HOST) {
    throw noCluster(why, `no kubeconfig at ${configs.join(delimiter)}`);
  }
  let k8s: typeof import("@kubernetes/client-node");
  try {
    k8s = await import("@kubernetes/client-node");
  } catch (e) {
    throw inputError([
      {
        message: `${why}: cannot load @kubernetes/client-node on Node ${process.versions.node} (${String((e as Error).message).split("\n")[0]})`,
        hint: "its HTTP client (undici 8) needs Node >= 22.19: use the Node version the repository pins",
      },
    ]);
  }
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (e) {
    throw noCluster(why, (e as Error).message);
  }
  if (!kc.getCurrentCluster()) throw noCluster(why, "no current kube context");
  const api: CustomObjectsApi = kc.makeApiClient(k8s.CustomObjectsApi);
  const listApps = async (limit?: number) =>
    (
      (await api.listNamespacedCustomObject({
        group: APPS.group,
        version: APPS.version,
        namespace: APPS.namespace(),
        plural: APPS.plural,
        labelSelector: "wms.example/environment",
        ...(limit ? { limit } : {}),
      })) as { items: ArgoApp[] }
    ).items;
  const argo: Argo = {
    list: () => listApps(),
    async get(name) {
      try {
        return (await api.getNamespacedCustomObject({
          group: APPS.group,
          version: APPS.version,
          namespace: APPS.namespace(),
          plural: APPS.plural,
          name,
        })) as ArgoApp;
      } catch (e) {
        if ((e as { code?: number }).code === 404) return undefined;
        throw e;
      }
    },
  };
  try {
    await listApps(1); // reachable, and allowed to read Applications: one is enough to know
  } catch (e) {
    throw noCluster(
      why,
      `${kc.getCurrentCluster()?.server}: ${String((e as Error).message ?? e).split("\n")[0]}`,
    );
  }
  return argo;
}

const noCluster = (why: string, detail: string) =>
  inputError([
    {
      message: `${why} needs a reachable cluster with Argo CD (${detail})`,
      hint: "set KUBECONFIG or the kube context (aws eks update-kubeconfig); ARGOCD_NAMESPACE if Argo CD is not in argocd",
    },
  ]);

export const appState = (a: ArgoApp | undefined) =>
  a ? `${a.status?.sync?.status ?? "Unknown"}/${a.status?.health?.status ?? "Unknown"}` : "not created yet";

/**
 * Poll until every named Application is Synced to a revision that contains `commit` (as
 * `contains(revision)` decides) and Healthy; throws after `timeoutS` seconds.
 */
export async function waitHealthy(
  argo: Argo,
  names: string[],
  opts: {
    contains: (revision: string) => Promise<boolean>;
    timeoutS: number;
    intervalS?: number;
    out: (l: string) => void;
    onTimeout: (states: string) => Error;
  },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutS * 1000;
  let last = "";
  for (;;) {
    const states: string[] = [];
    let ready = true;
    for (const name of names) {
      const app = await argo.get(name);
      const rev = app?.status?.sync?.revision ?? "";
      const ok =
        app?.status?.sync?.status === "Synced" &&
        app.status.health?.status === "Healthy" &&
        rev !== "" &&
        (await opts.contains(rev));
      ready &&= ok;
      states.push(`${name} ${appState(app)}${rev ? ` at ${rev.slice(0, 7)}` : ""}`);
    }
    const now = states.join(", ");
    if (now !== last) opts.out(`  waiting: ${now}`);
    last = now;
    if (ready) return;
    if (Date.now() > deadline) throw opts.onTimeout(now);
    await new Promise((r) => setTimeout(r, (opts.intervalS ?? 5) * 1000));
  }
}
