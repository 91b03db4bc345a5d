/**
 * A real worker node per cluster: containerd (+ runc) with CNI (bridge, host-local, portmap,
 * loopback), a kubelet and a kube-proxy (iptables mode), all in the node's own network namespace,
 * as a kind node runs in its own container. Two clusters' nodes (and another suite's, with its
 * own E2E_PORT_BASE) then keep their bridges, iptables chains, kubelet ports and pod networks
 * apart. The host reaches the node through a veth pair (layout.ts NODE_NET): routes to the pod
 * and service ranges go through the node's address, so a Service ClusterIP answers from the host
 * through the node's kube-proxy. The node reaches the host's loopback-only API server through a
 * forwarder on the host end of the pair (tcp-forward.ts) and the S3 server listening there.
 *
 * Everything a node leaves behind is under .e2e/<cluster>/node (state, mounts), its cgroup parent
 * (layout.ts CGROUP_ROOT) and its network namespace; `removeNode` takes all of it down.
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Cluster } from "./controlplane.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import {
  BIN,
  CGROUP_ROOT,
  type ClusterName,
  IMAGES,
  NODE_NAME,
  NODE_NET,
  type NodeNet,
  PORTS,
  REPO_ROOT,
  SERVICE_CIDR,
  STATE,
} from "./layout.ts";
import { start } from "./processes.ts";

/** The sandbox image setup-cluster.sh builds (build_pause, build_images). */
export const PAUSE_IMAGE = "wms.local/e2e/pause:1";
/** Production's ECR repository (policies/image-digest admits no other); setup-cluster.sh names the image so. */
export const MODEL_SERVER_REPO = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/wms-server";
/** Debian bookworm's runc and CNI plugins (setup-cluster.sh `debian`). */
const RUNC = "/usr/sbin/runc";
const CNI_BIN = "/usr/lib/cni";

/**
 * Every real node carries this taint, so nothing lands there by accident: the Deployments of
 * platform components the suite runs as host processes (Argo CD's own manifests) or leaves to
 * kwok would otherwise try to pull their images from the internet.
 */
export const REAL_NODE_TAINT = { key: "wms.example/e2e-node", value: "real", effect: "NoSchedule" };

/**
 * What stands in for a node pool the product's pods are placed on (Karpenter's NodePool on EKS):
 * a MutatingAdmissionPolicy (the API server's own admission) that gives pods labelled
 * app.kubernetes.io/part-of=wms the real node's toleration and its hostname as nodeSelector.
 * Applied by `up` to the clusters whose product pods run for real; the manifests are the product's.
 * `match` (a MutatingAdmissionPolicy's objectSelector or namespaceSelector) and `name` place other
 * pods there too: the real gateway's (Envoy Gateway, its Envoy, metrics-server; cli.ts).
 */
export function realNodePlacementPolicy(
  cluster: ClusterName,
  match: Record<string, unknown> = {
    objectSelector: { matchLabels: { "app.kubernetes.io/part-of": "wms" } },
  },
  name = "e2e-real-node-placement",
): unknown[] {
  const t = REAL_NODE_TAINT;
  const node = nodeLayout(cluster).name;
  const toleration = `{"key": "${t.key}", "operator": "Equal", "value": "${t.value}", "effect": "${t.effect}"}`;
  // JSONPatch, not ApplyConfiguration: an apply configuration may not change atomic lists and
  // maps (tolerations, nodeSelector), which the API server refuses at admission
  const patches = [
    `has(object.spec.tolerations) ? JSONPatch{op: "add", path: "/spec/tolerations/-", value: ${toleration}} : JSONPatch{op: "add", path: "/spec/tolerations", value: [${toleration}]}`,
    `has(object.spec.nodeSelector) ? JSONPatch{op: "add", path: "/spec/nodeSelector/kubernetes.io~1hostname", value: "${node}"} : JSONPatch{op: "add", path: "/spec/nodeSelector", value: {"kubernetes.io/hostname": "${node}"}}`,
  ];
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingAdmissionPolicy",
      metadata: { name },
      spec: {
        failurePolicy: "Fail",
        reinvocationPolicy: "Never",
        matchConstraints: {
          ...match,
          resourceRules: [
            { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] },
          ],
        },
        mutations: [
          {
            patchType: "JSONPatch",
            jsonPatch: { expression: `[${patches.join(", ")}]` },
          },
        ],
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingAdmissionPolicyBinding",
      metadata: { name },
      spec: { policyName: name },
    },
  ];
}

/**
 * The `kubernetes` Service's endpoint, which pods on the real node reach the API server by
 * (KUBERNETES_SERVICE_HOST, what client-go's in-cluster config uses: Envoy Gateway's controller,
 * metrics-server). The API server listens on loopback and runs without an endpoint reconciler (a
 * loopback address cannot be an EndpointSlice address), so `up` writes the slice itself: the API
 * server forwarder on the host end of the node's link (startNode), whose certificate names the
 * Service's ClusterIP (pki.ts).
 */
export function apiServiceEndpoints(cluster: ClusterName): unknown {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "kubernetes-e2e-forwarder",
      namespace: "default",
      labels: {
        "kubernetes.io/service-name": "kubernetes",
        "endpointslice.kubernetes.io/managed-by": "e2e-cluster-up",
      },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: [NODE_NET[cluster].hostIp], conditions: { ready: true } }],
    ports: [{ name: "https", port: PORTS[cluster].apiserver, protocol: "TCP" }],
  };
}

export interface RealNode {
  cluster: ClusterName;
  name: string;
  net: NodeNet;
  dir: string;
  socket: string;
}

export function nodeLayout(cluster: ClusterName): RealNode {
  const dir = join(STATE, cluster, "node");
  return {
    cluster,
    name: NODE_NAME[cluster],
    net: NODE_NET[cluster],
    dir,
    socket: join(dir, "containerd", "containerd.sock"),
  };
}

function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr?.trim() || e}`);
  }
}

/** Like run, for teardown: a failure is reported, not thrown. */
function tryRun(log: (l: string) => void, cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    const msg = err.stderr?.toString().trim() ?? String(e);
    if (!/Cannot find device|No such file|not found|does not exist|No such process/.test(msg))
      log(`  ${cmd} ${args.join(" ")}: ${msg}`);
  }
}

const inNetns = (n: RealNode, cmd: string, args: string[]) =>
  run("nsenter", [`--net=/run/netns/${n.net.netns}`, "--", cmd, ...args]);

/** The node's network namespace, its veth pair and the host's routes to its pods and services. */
function setupNetwork(n: RealNode): void {
  const { net } = n;
  run("ip", ["netns", "add", net.netns]);
  run("ip", ["link", "add", net.hostIf, "type", "veth", "peer", "name", net.nodeIf, "netns", net.netns]);
  run("ip", ["addr", "add", `${net.hostIp}/30`, "dev", net.hostIf]);
  run("ip", ["link", "set", net.hostIf, "up"]);
  run("ip", ["-n", net.netns, "link", "set", "lo", "up"]);
  run("ip", ["-n", net.netns, "addr", "add", `${net.nodeIp}/30`, "dev", net.nodeIf]);
  run("ip", ["-n", net.netns, "link", "set", net.nodeIf, "up"]);
  // everything not on the node goes to the host; the host does not forward (ip_forward stays as
  // it is), so only the host's own addresses answer: the forwarder and the S3 server
  run("ip", ["-n", net.netns, "route", "add", "default", "via", net.hostIp]);
  inNetns(n, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
  inNetns(n, "sysctl", ["-qw", "net.bridge.bridge-nf-call-iptables=1"]);
  run("ip", ["route", "add", net.podCidr, "via", net.nodeIp, "dev", net.hostIf]);
  run("ip", ["route", "add", SERVICE_CIDR[n.cluster], "via", net.nodeIp, "dev", net.hostIf]);
}

/** Every v1 controller's hierarchy gets the node's cgroup parent (cpuset needs its cpus and mems). */
function cgroupHierarchies(): string[] {
  const root = "/sys/fs/cgroup";
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, "cgroup.procs")))
    .map((d) => join(root, d.name));
}

function setupCgroups(n: RealNode): void {
  for (const h of cgroupHierarchies()) {
    const dir = join(h, CGROUP_ROOT[n.cluster]);
    mkdirSync(dir, { recursive: true });
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      if (existsSync(join(h, f))) writeFileSync(join(dir, f), readFileSync(join(h, f), "utf8"));
    }
  }
}

function containerdConfig(n: RealNode): string {
  const d = join(n.dir, "containerd");
  return `version = 3
root = "${d}/root"
state = "${d}/state"
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "${n.socket}"

[plugins.'io.containerd.internal.v1.opt']
  path = "${d}/opt"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${PAUSE_IMAGE}"

[plugins.'io.containerd.cri.v1.runtime']
  # no CAP_SYS_RESOURCE here: a negative oom_score_adj fails and no sandbox would start
  restrict_oom_score_adj = true
  # pod network namespaces under the state directory, so that down finds and unmounts them
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "${RUNC}"
        Root = "${d}/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${CNI_BIN}"]
    conf_dir = "${n.dir}/cni/net.d"
    max_conf_num = 1

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
`;
}

function cniConfig(n: RealNode): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: `wms-e2e-${n.net.netns}`,
      plugins: [
        {
          type: "bridge",
          bridge: n.net.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: join(n.dir, "cni", "ipam"),
            ranges: [[{ subnet: n.net.podCidr, gateway: n.net.bridgeIp }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(n: RealNode, c: Cluster): string {
  return stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // hybrid cgroup v1 on this machine (1.35+ refuses v1 unless told)
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    cgroupRoot: CGROUP_ROOT[n.cluster],
    containerRuntimeEndpoint: `unix://${n.socket}`,
    address: n.net.nodeIp,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: c.pki.ca },
    },
    authorization: { mode: "Webhook" },
    clusterDomain: "cluster.local",
    podLogsDir: join(n.dir, "pod-logs"),
    // the open-files hard limit here is 20000
    maxOpenFiles: 20000,
    failSwapOn: false,
    // a shared disk: no eviction or image GC for the e2e's own images
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    registerNode: true,
    nodeStatusReportFrequency: "10s",
  });
}

function kubeProxyConfig(n: RealNode, kubeconfig: string): string {
  return stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    clientConnection: { kubeconfig },
    hostnameOverride: n.name,
    bindAddress: n.net.nodeIp,
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    clusterCIDR: n.net.podCidr,
    // conntrack table size is the machine's (init namespace only): leave it
    conntrack: { maxPerCore: 0 },
  });
}

/** Import every image setup-cluster.sh built into the node's containerd (CRI's namespace). */
function importImages(n: RealNode): void {
  for (const f of readdirSync(IMAGES).filter((f) => f.endsWith(".tar"))) {
    run(join(BIN, "ctr"), ["--address", n.socket, "-n", "k8s.io", "images", "import", join(IMAGES, f)]);
  }
}

/** The model server image's reference by digest (what an operator writes into environment.yaml). */
export function modelServerImage(): string {
  const f = join(IMAGES, "model-server.tar.digest");
  if (!existsSync(f)) throw new Error(`${f} missing: run bash scripts/setup-cluster.sh images`);
  return `${MODEL_SERVER_REPO}@${readFileSync(f, "utf8").trim()}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitSocket(path: string, what: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (existsSync(path)) return;
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what} (${path})`);
}

/**
 * Start the node: network, cgroups, the API server forwarder, containerd (images imported),
 * kubelet, kube-proxy. The kubelet registers the Node itself; the caller waits for it Ready.
 */
export async function startNode(c: Cluster, opts: { taints?: string[] } = {}): Promise<RealNode> {
  const n = nodeLayout(c.name);
  for (const d of ["containerd", "cni/net.d", "kubelet", "pod-logs"])
    mkdirSync(join(n.dir, d), { recursive: true });
  setupNetwork(n);
  setupCgroups(n);
  const apiPort = PORTS[c.name].apiserver;
  start(
    `${c.name}-node-api-forward`,
    process.execPath,
    [
      "--import",
      "tsx",
      join(REPO_ROOT, "test/e2e/cluster/tcp-forward.ts"),
      n.net.hostIp,
      String(apiPort),
      String(apiPort),
    ],
    { cwd: REPO_ROOT },
  );
  const server = `https://${n.net.hostIp}:${apiPort}`;

  writeFileSync(join(n.dir, "containerd", "config.toml"), containerdConfig(n));
  writeFileSync(join(n.dir, "cni/net.d", "10-wms.conflist"), cniConfig(n));
  start(
    `${c.name}-containerd`,
    join(BIN, "containerd"),
    ["--config", join(n.dir, "containerd", "config.toml"), "--log-level", "warn"],
    // containerd finds its shim (containerd-shim-runc-v2) on PATH
    { netns: n.net.netns, env: { PATH: `${BIN}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}` } },
  );
  await waitSocket(n.socket, `${c.name} containerd`, 30_000);
  importImages(n);

  const kubeletKc = join(n.dir, "kubelet.kubeconfig");
  writeKubeconfig(kubeletKc, [{ name: c.name, server, ca: c.pki.ca, user: c.pki.kubelet }], c.name);
  writeFileSync(join(n.dir, "kubelet-config.yaml"), kubeletConfig(n, c));
  start(
    `${c.name}-kubelet`,
    join(BIN, "kubelet"),
    [
      `--config=${join(n.dir, "kubelet-config.yaml")}`,
      `--kubeconfig=${kubeletKc}`,
      `--root-dir=${join(n.dir, "kubelet")}`,
      `--hostname-override=${n.name}`,
      `--node-ip=${n.net.nodeIp}`,
      `--node-labels=${["wms.example/e2e-node=real", `topology.kubernetes.io/zone=zone-${c.name}-real`].join(
        ",",
      )}`,
      ...(opts.taints && opts.taints.length > 0 ? [`--register-with-taints=${opts.taints.join(",")}`] : []),
      "--v=1",
    ],
    { netns: n.net.netns },
  );
  const proxyKc = join(n.dir, "kube-proxy.kubeconfig");
  writeKubeconfig(proxyKc, [{ name: c.name, server, ca: c.pki.ca, user: c.pki.kubeProxy }], c.name);
  writeFileSync(join(n.dir, "kube-proxy-config.yaml"), kubeProxyConfig(n, proxyKc));
  start(
    `${c.name}-kube-proxy`,
    join(BIN, "kube-proxy"),
    [`--config=${join(n.dir, "kube-proxy-config.yaml")}`],
    {
      netns: n.net.netns,
    },
  );
  return n;
}

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo). */
function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4]?.replace(/\\040/g, " ");
    if (mp && (mp === dir || mp.startsWith(`${dir}/`))) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Processes whose cgroup (any v1 hierarchy) is under the node's cgroup parent. */
function processesInCgroup(cluster: ClusterName): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const p of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean))
      pids.add(Number(p));
    for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) walk(join(dir, d.name));
  };
  for (const h of cgroupHierarchies()) walk(join(h, CGROUP_ROOT[cluster]));
  return [...pids];
}

/** The node's runc shims: started by its containerd (their command line names its socket). */
function shimsOf(n: RealNode): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
      if (cmd[0]?.endsWith("containerd-shim-runc-v2") && cmd.includes(n.socket)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

function rmdirTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const d of readdirSync(dir, { withFileTypes: true }))
    if (d.isDirectory()) rmdirTree(join(dir, d.name));
  // cgroupfs: a cgroup is removed by rmdir alone (its control files go with it)
  rmdirSync(dir);
}

/**
 * Tear a node down after its processes (kubelet, kube-proxy, containerd) were stopped: kill what
 * runs in its pods and its shims, unmount what it mounted, remove its cgroups, its network
 * namespace (bridge, veths, iptables with it) and the host's routes. Safe to run again.
 */
export async function removeNode(cluster: ClusterName, log: (l: string) => void): Promise<void> {
  const n = nodeLayout(cluster);
  for (let i = 0; i < 3; i++) {
    const pids = [...processesInCgroup(cluster), ...shimsOf(n)];
    if (pids.length === 0) break;
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await sleep(500);
  }
  for (const m of mountsUnder(n.dir)) tryRun(log, "umount", ["-l", m]);
  for (const h of cgroupHierarchies()) {
    try {
      rmdirTree(join(h, CGROUP_ROOT[cluster]));
    } catch (e) {
      log(`  cgroup ${h}${CGROUP_ROOT[cluster]}: ${(e as Error).message}`);
    }
  }
  // the kubelet links every container's log into /var/log/containers (a fixed path)
  const links = "/var/log/containers";
  if (existsSync(links)) {
    for (const l of readdirSync(links)) {
      try {
        if (readlinkSync(join(links, l)).startsWith(`${n.dir}/`)) rmSync(join(links, l));
      } catch {
        // not a link
      }
    }
  }
  // routes go with the host end of the pair; the namespace takes the rest with it
  tryRun(log, "ip", ["link", "del", n.net.hostIf]);
  tryRun(log, "ip", ["netns", "del", n.net.netns]);
  rmSync(n.dir, { recursive: true, force: true });
}
