/**
 * What the e2e scenarios share: the clusters (from .e2e/kubeconfig written by `npm run cluster
 * -- up`, or any kubeconfig named by E2E_KUBECONFIG), a working clone of the repository Argo CD
 * watches (.e2e/git-remote or E2E_GIT_REMOTE), and waiting on Argo CD.
 *
 * Against another cluster: E2E_KUBECONFIG=<file> E2E_GIT_REMOTE=<url Argo CD watches, pushable>
 * and, when the contexts are not called hub/spoke, E2E_CONTEXTS="in-cluster=<ctx>,wms-staging=<ctx>,wms-prod=<ctx>"
 * (Argo CD cluster name = kube context that reaches it; the first one is where Argo CD runs).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { CLUSTER_INFO, GIT_REMOTE_FILE, KUBECONFIG } from "./cluster/layout.ts";

export const LOCAL = !process.env.E2E_KUBECONFIG;
export const KUBECONFIG_FILE = process.env.E2E_KUBECONFIG ?? KUBECONFIG;
export const ARGOCD_NS = process.env.ARGOCD_NAMESPACE ?? "argocd";

function contextMap(): Record<string, string> {
  const spec = process.env.E2E_CONTEXTS ?? "in-cluster=hub,wms-staging=spoke,wms-prod=spoke";
  return Object.fromEntries(spec.split(",").map((kv) => kv.split("=") as [string, string]));
}
/** Argo CD cluster name → kube context. */
export const CONTEXTS = contextMap();
export const HUB = CONTEXTS["in-cluster"] ?? "hub";

export function gitRemote(): string {
  const url =
    process.env.E2E_GIT_REMOTE ??
    (existsSync(GIT_REMOTE_FILE) ? readFileSync(GIT_REMOTE_FILE, "utf8").trim() : "");
  if (!url) throw new Error("no git remote: run `npm run cluster -- up` or set E2E_GIT_REMOTE");
  return url;
}

/** What the local control plane lacks (see cluster/cli.ts NOT_HERE); empty for other clusters. */
export function localGaps(): { hpaMetrics: boolean } {
  if (!LOCAL || !existsSync(CLUSTER_INFO)) return { hpaMetrics: true };
  return { hpaMetrics: false };
}

export function kubeConfig(context: string): k8s.KubeConfig {
  if (!existsSync(KUBECONFIG_FILE))
    throw new Error(`${KUBECONFIG_FILE} missing: run \`npm run cluster -- up\``);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(KUBECONFIG_FILE);
  kc.setCurrentContext(context);
  return kc;
}

export interface Clients {
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  objects: k8s.KubernetesObjectApi;
}

const clientCache = new Map<string, Clients>();
export function clients(context: string): Clients {
  let c = clientCache.get(context);
  if (!c) {
    const kc = kubeConfig(context);
    c = {
      core: kc.makeApiClient(k8s.CoreV1Api),
      custom: kc.makeApiClient(k8s.CustomObjectsApi),
      objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    };
    clientCache.set(context, c);
  }
  return c;
}

export interface ArgoApp {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { project: string; destination: { name?: string; server?: string; namespace?: string } };
  status?: {
    sync?: { status?: string; revision?: string };
    health?: { status?: string };
    resources?: {
      kind: string;
      name: string;
      namespace?: string;
      status?: string;
      health?: { status?: string; message?: string };
    }[];
    conditions?: { type: string; message: string }[];
    operationState?: { phase?: string; message?: string };
  };
}

export async function applications(): Promise<ArgoApp[]> {
  const res = (await clients(HUB).custom.listNamespacedCustomObject({
    group: "argoproj.io",
    version: "v1alpha1",
    namespace: ARGOCD_NS,
    plural: "applications",
  })) as { items: ArgoApp[] };
  return res.items;
}

export async function namespaceExists(context: string, name: string): Promise<boolean> {
  try {
    const ns = await clients(context).core.readNamespace({ name });
    return !ns.metadata?.deletionTimestamp;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return false;
    throw e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until check() returns a value (not undefined); the last reason is in the timeout error. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | string>,
  timeoutMs = 240_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    try {
      const r = await check();
      if (r !== undefined && typeof r !== "string") return r as T;
      if (typeof r === "string") last = r;
    } catch (e) {
      last = String((e as Error).message ?? e);
    }
    await sleep(2000);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s: ${what}${last ? ` (last: ${last})` : ""}`);
}

/** A clone of the watched repository, committing as the e2e user. */
export function cloneWatched(): string {
  const dir = mkdtempSync(join(tmpdir(), "wms-e2e-"));
  git(tmpdir(), ["clone", "--quiet", gitRemote(), dir]);
  git(dir, ["config", "user.name", "e2e"]);
  git(dir, ["config", "user.email", "e2e@localhost"]);
  return dir;
}

export function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function push(dir: string): string {
  git(dir, ["push", "--quiet", "origin", "HEAD:main"]);
  return git(dir, ["rev-parse", "HEAD"]).trim();
}

export interface AppJson {
  appName: string;
  environment: string;
  model: string;
  version: string;
  component: string;
  role: string;
  namespace: string;
  cluster: string;
  project: string;
}

/** The Applications git says there should be: one per environments/<env>/rendered/<folder>/app.json. */
export function expectedApps(dir: string): AppJson[] {
  const out: AppJson[] = [];
  for (const env of readdirSync(join(dir, "environments"))) {
    const rendered = join(dir, "environments", env, "rendered");
    if (!existsSync(rendered)) continue;
    for (const folder of readdirSync(rendered)) {
      const f = join(rendered, folder, "app.json");
      if (existsSync(f)) out.push(JSON.parse(readFileSync(f, "utf8")) as AppJson);
    }
  }
  return out.sort((a, b) => a.appName.localeCompare(b.appName));
}

/** The commit every Application of the watched repository has synced, once they all have. */
export async function allSyncedTo(revision: string, names: string[], timeoutMs?: number): Promise<ArgoApp[]> {
  return eventually(
    `Applications ${names.join(", ")} synced to ${revision.slice(0, 8)}`,
    async () => {
      const apps = await applications();
      const byName = new Map(apps.map((a) => [a.metadata.name, a]));
      for (const n of names) {
        const a = byName.get(n);
        if (!a) return `${n} missing`;
        if (a.status?.sync?.revision !== revision)
          return `${n} at ${a.status?.sync?.revision?.slice(0, 8) ?? "no revision"}`;
        if (a.status?.sync?.status !== "Synced") {
          return `${n} ${a.status?.sync?.status}: ${JSON.stringify(a.status?.conditions ?? a.status?.operationState?.message ?? "")}`;
        }
      }
      return apps;
    },
    timeoutMs,
  );
}

export interface HttpRouteBackend {
  name: string;
  namespace?: string;
  weight?: number;
}

export async function routeBackends(context: string, namespace: string): Promise<HttpRouteBackend[]> {
  const r = (await clients(context).custom.getNamespacedCustomObject({
    group: "gateway.networking.k8s.io",
    version: "v1",
    namespace,
    plural: "httproutes",
    name: "wms",
  })) as { spec: { rules: { backendRefs: HttpRouteBackend[] }[] } };
  return r.spec.rules[0]?.backendRefs ?? [];
}
