/**
 * Where the local control plane lives: binaries and CRDs built by scripts/setup-cluster.sh
 * under .tools/, run-time state (certificates, etcd data, logs, PIDs, kubeconfig) under .e2e/,
 * and the loopback ports each process listens on.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
export const TOOLS = join(REPO_ROOT, ".tools");
export const BIN = join(TOOLS, "bin");
export const CRDS = join(TOOLS, "crds");
export const ARGOCD_INSTALL = join(TOOLS, "argocd-install");
export const STATE = join(REPO_ROOT, ".e2e");
export const KUBECONFIG = join(STATE, "kubeconfig");
export const GIT_REMOTE_FILE = join(STATE, "git-remote");
export const CLUSTER_INFO = join(STATE, "cluster.json");
export const PIDS = join(STATE, "pids.json");
export const LOGS = join(STATE, "logs");

export type ClusterName = "hub" | "spoke";

/** Ports from E2E_PORT_BASE (default 26400): hub +40.., spoke +60.., Argo CD and git +80... */
const BASE = Number(process.env.E2E_PORT_BASE ?? 26400);

export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

export const PORTS: Record<ClusterName, ClusterPorts> & {
  redis: number;
  repoServer: number;
  repoServerMetrics: number;
  controllerMetrics: number;
  appsetMetrics: number;
  appsetProbe: number;
  appsetWebhook: number;
  git: number;
  argocdServer: number;
  argocdServerMetrics: number;
} = {
  hub: clusterPorts(BASE + 40),
  spoke: clusterPorts(BASE + 60),
  redis: BASE + 80,
  repoServer: BASE + 81,
  repoServerMetrics: BASE + 82,
  controllerMetrics: BASE + 83,
  appsetMetrics: BASE + 84,
  appsetProbe: BASE + 85,
  appsetWebhook: BASE + 86,
  git: BASE + 87,
  argocdServer: BASE + 88,
  argocdServerMetrics: BASE + 89,
};

/** The e2e's local read-only Argo CD account (seed.ts adds it to argocd-cm, argocd.ts sets its password). */
export const READONLY_ACCOUNT = "wms-readonly";

function clusterPorts(p: number): ClusterPorts {
  return {
    etcdClient: p + 1,
    etcdPeer: p + 2,
    apiserver: p + 3,
    controllerManager: p + 4,
    scheduler: p + 5,
    kwok: p + 6,
  };
}

/** Service CIDRs: distinct per cluster, as two real clusters would have. */
export const SERVICE_CIDR: Record<ClusterName, string> = { hub: "10.96.0.0/16", spoke: "10.97.0.0/16" };
export const SERVICE_IP: Record<ClusterName, string> = { hub: "10.96.0.1", spoke: "10.97.0.1" };

/**
 * Argo CD cluster names the environments name (environments/<env>/environment.yaml
 * destination.cluster): dev runs on the hub (`in-cluster`), staging and prod on the spoke,
 * each registered as its own cluster secret (the spoke answers on 127.0.0.1 and localhost).
 */
export const SPOKE_CLUSTERS = [
  { name: "wms-staging", host: "127.0.0.1" },
  { name: "wms-prod", host: "localhost" },
] as const;

export const ARGOCD_NAMESPACE = "argocd";
