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
/** Images setup-cluster.sh builds (OCI archives and their digests), imported into every node. */
export const IMAGES = join(TOOLS, "images");

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
  s3: number;
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
  s3: BASE + 90,
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

/**
 * Each cluster's addresses, distinct per cluster and per E2E_PORT_BASE (two suites may run on one
 * machine: the host routes a cluster's pod and service ranges to its node). `slot` is 0..199.
 *  - service CIDR 10.<slot>.0.0/16 (the first address is the `kubernetes` Service);
 *  - the real node's link: a veth pair, 172.30.<slot>.1 on the host, 172.30.<slot>.2 in the
 *    node's network namespace (the node's InternalIP);
 *  - the real node's pod CIDR 172.31.<slot>.0/24 (its CNI bridge).
 */
function slot(name: ClusterName): number {
  return (Math.floor(BASE / 100) % 100) * 2 + (name === "hub" ? 0 : 1);
}

export const SERVICE_CIDR: Record<ClusterName, string> = {
  hub: `10.${slot("hub")}.0.0/16`,
  spoke: `10.${slot("spoke")}.0.0/16`,
};
export const SERVICE_IP: Record<ClusterName, string> = {
  hub: `10.${slot("hub")}.0.1`,
  spoke: `10.${slot("spoke")}.0.1`,
};

export interface NodeNet {
  /** network namespace the node's containerd, kubelet and kube-proxy run in */
  netns: string;
  /** host end of the veth pair, and its address (the API server and S3 are reached there) */
  hostIf: string;
  hostIp: string;
  /** node end (inside netns) and its address: the node's InternalIP */
  nodeIf: string;
  nodeIp: string;
  podCidr: string;
  /** the CNI bridge in the node's namespace and its address (pods' gateway) */
  bridge: string;
  bridgeIp: string;
}

export const NODE_NET: Record<ClusterName, NodeNet> = { hub: nodeNet("hub"), spoke: nodeNet("spoke") };

function nodeNet(name: ClusterName): NodeNet {
  const s = slot(name);
  return {
    netns: `wms-e2e-${BASE}-${name}`,
    hostIf: `wmsh${s}`,
    hostIp: `172.30.${s}.1`,
    nodeIf: `wmsn${s}`,
    nodeIp: `172.30.${s}.2`,
    podCidr: `172.31.${s}.0/24`,
    bridge: "wms0",
    bridgeIp: `172.31.${s}.1`,
  };
}

/**
 * Clusters whose product pods run on the real node (realNodePlacementPolicy: the pods labelled
 * part-of=wms get its toleration and hostname). Every real node is tainted (REAL_NODE_TAINT), so
 * in the other clusters, and for every other pod, kwok's nodes keep the pods (staging's replicas
 * ask for more CPU than this machine has). E2E_REAL_NODE_ONLY=hub (or hub,spoke) puts the product's pods there.
 */
// Default: hub (dev's pods run for real; the delivery scenarios deploy example releases, which
// model-store.ts exports again and uploads). E2E_REAL_NODE_ONLY=none keeps every pod on kwok.
export const REAL_NODE_CLUSTERS: ReadonlySet<string> = new Set(
  (process.env.E2E_REAL_NODE_ONLY ?? "hub").split(",").filter((c) => c !== "" && c !== "none"),
);

/** The real worker node of each cluster (node.ts): its name and where its state lives. */
export const NODE_NAME: Record<ClusterName, string> = { hub: "hub-node", spoke: "spoke-node" };
/** The cgroup parent of everything a node's kubelet runs (under every v1 controller). */
export const CGROUP_ROOT: Record<ClusterName, string> = {
  hub: `/wms-e2e-${BASE}-hub`,
  spoke: `/wms-e2e-${BASE}-spoke`,
};

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
