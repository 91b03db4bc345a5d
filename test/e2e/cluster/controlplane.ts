/**
 * One cluster's control plane on loopback: etcd (TLS, client certificates), kube-apiserver
 * (TLS, client-certificate and service-account-token authentication, RBAC and Node
 * authorization, the default admission chain with PodSecurity and ValidatingAdmissionPolicy;
 * no insecure port), kube-controller-manager, kube-scheduler and kwok with fake nodes.
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { type KubeContext, writeKubeconfig } from "./kubeconfig.ts";
import {
  BIN,
  type ClusterName,
  NODE_NAME,
  NODE_NET,
  PORTS,
  SERVICE_CIDR,
  SERVICE_IP,
  STATE,
  TOOLS,
} from "./layout.ts";
import { type ClusterPki, clusterPki } from "./pki.ts";
import { start } from "./processes.ts";

export interface Cluster {
  name: ClusterName;
  server: string;
  pki: ClusterPki;
  dir: string;
  admin: KubeContext;
}

export function clusterLayout(name: ClusterName): Cluster {
  const dir = join(STATE, name);
  const pki = clusterPki(join(dir, "pki"), SERVICE_IP[name], {
    name: NODE_NAME[name],
    apiIp: NODE_NET[name].hostIp,
  });
  const server = `https://127.0.0.1:${PORTS[name].apiserver}`;
  return { name, server, pki, dir, admin: { name, server, ca: pki.ca, user: pki.admin } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET a path of the API server as the cluster admin; status and body. */
export function apiGet(c: Cluster, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${c.server}${path}`,
      {
        ca: readFileSync(c.pki.ca),
        cert: readFileSync(c.pki.admin.cert),
        key: readFileSync(c.pki.admin.key),
        timeout: 5000,
      },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${last}` : ""}`);
}

function componentKubeconfig(c: Cluster, component: string, user: { cert: string; key: string }): string {
  const file = join(c.dir, `${component}.kubeconfig`);
  writeKubeconfig(file, [{ name: c.name, server: c.server, ca: c.pki.ca, user }], c.name);
  return file;
}

export async function startControlPlane(c: Cluster): Promise<void> {
  const p = PORTS[c.name];
  const { pki } = c;
  const etcdUrl = `https://127.0.0.1:${p.etcdClient}`;
  const peerUrl = `https://127.0.0.1:${p.etcdPeer}`;
  start(`${c.name}-etcd`, join(BIN, "etcd"), [
    `--name=${c.name}`,
    `--data-dir=${join(c.dir, "etcd")}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${c.name}=${peerUrl}`,
    `--cert-file=${pki.etcdServer.cert}`,
    `--key-file=${pki.etcdServer.key}`,
    "--client-cert-auth",
    `--trusted-ca-file=${pki.ca}`,
    `--peer-cert-file=${pki.etcdServer.cert}`,
    `--peer-key-file=${pki.etcdServer.key}`,
    "--peer-client-cert-auth",
    `--peer-trusted-ca-file=${pki.ca}`,
    // a test cluster on a shared disk: durability is not what is tested here
    "--unsafe-no-fsync",
    "--log-level=warn",
  ]);
  start(`${c.name}-kube-apiserver`, join(BIN, "kube-apiserver"), [
    `--etcd-servers=${etcdUrl}`,
    `--etcd-cafile=${pki.ca}`,
    `--etcd-certfile=${pki.etcdClient.cert}`,
    `--etcd-keyfile=${pki.etcdClient.key}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${p.apiserver}`,
    `--tls-cert-file=${pki.apiserver.cert}`,
    `--tls-private-key-file=${pki.apiserver.key}`,
    `--client-ca-file=${pki.ca}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR[c.name]}`,
    "--authorization-mode=Node,RBAC",
    // as real clusters run it (kubeadm, EKS): privileged pods are for Pod Security to refuse
    "--allow-privileged=true",
    // the default admission chain (PodSecurity, ValidatingAdmissionPolicy, ResourceQuota, ...)
    // plus nothing; a loopback address cannot be an EndpointSlice address, so the `kubernetes`
    // Service gets no endpoints reconciler
    "--endpoint-reconciler-type=none",
    `--cert-dir=${join(c.dir, "apiserver-certs")}`,
    "--profiling=false",
    // logs, exec and port-forward through the real node's kubelet (its webhook authorizes the admin)
    `--kubelet-client-certificate=${pki.admin.cert}`,
    `--kubelet-client-key=${pki.admin.key}`,
    // the node's name is not in any DNS: reach the kubelet at its InternalIP
    "--kubelet-preferred-address-types=InternalIP",
    // the aggregation layer, as kubeadm configures it: metrics-server's resource metrics API
    // (v1beta1.metrics.k8s.io) authenticates the API server's proxied requests by this client
    `--requestheader-client-ca-file=${pki.ca}`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${pki.frontProxy.cert}`,
    `--proxy-client-key-file=${pki.frontProxy.key}`,
  ]);
  await waitFor(
    `${c.name} kube-apiserver /readyz`,
    async () => (await apiGet(c, "/readyz")).status === 200,
    120_000,
  );
  const kcm = componentKubeconfig(c, "kube-controller-manager", pki.controllerManager);
  start(`${c.name}-kube-controller-manager`, join(BIN, "kube-controller-manager"), [
    `--kubeconfig=${kcm}`,
    `--authentication-kubeconfig=${kcm}`,
    `--authorization-kubeconfig=${kcm}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${p.controllerManager}`,
    `--cert-dir=${join(c.dir, "kcm-certs")}`,
    `--cluster-name=${c.name}`,
    `--cluster-signing-cert-file=${pki.ca}`,
    `--cluster-signing-key-file=${pki.caKey}`,
    `--root-ca-file=${pki.ca}`,
    `--service-account-private-key-file=${pki.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR[c.name]}`,
    "--use-service-account-credentials=true",
    "--leader-elect=false",
  ]);
  const sched = componentKubeconfig(c, "kube-scheduler", pki.scheduler);
  start(`${c.name}-kube-scheduler`, join(BIN, "kube-scheduler"), [
    `--kubeconfig=${sched}`,
    `--authentication-kubeconfig=${sched}`,
    `--authorization-kubeconfig=${sched}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${p.scheduler}`,
    `--cert-dir=${join(c.dir, "scheduler-certs")}`,
    "--leader-elect=false",
  ]);
  const kwok = componentKubeconfig(c, "kwok", pki.kwok);
  start(`${c.name}-kwok`, join(BIN, "kwok"), [
    `--kubeconfig=${kwok}`,
    `--config=${join(TOOLS, "kwok-stages.yaml")}`,
    "--manage-all-nodes=false",
    "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
    `--server-address=127.0.0.1:${p.kwok}`,
    "--cidr=10.244.0.0/16",
    "--node-ip=10.0.0.1",
  ]);
}

/**
 * Fake nodes kwok answers for: room for every rendered replica. Untainted; the real node is the
 * tainted one (node.ts REAL_NODE_TAINT), so only the pods placed there on purpose run for real.
 */
export function kwokNodes(c: Cluster, count = 2): unknown[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: `${c.name}-kwok-${i}`,
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": `${c.name}-kwok-${i}`,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/zone": `zone-${i}`,
        type: "kwok",
      },
    },
    status: {
      allocatable: { cpu: "32", memory: "128Gi", pods: "110" },
      capacity: { cpu: "32", memory: "128Gi", pods: "110" },
    },
  }));
}
