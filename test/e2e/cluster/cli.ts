/**
 * npm run cluster -- up | down | status
 *
 * up:     two clusters on loopback (hub with Argo CD, spoke), each kube-apiserver + etcd +
 *         kube-controller-manager + kube-scheduler + kwok, and a real worker node (node.ts:
 *         containerd, kubelet, kube-proxy, CNI, in its own network namespace); the model store
 *         (moto's S3 server with the releases); a git server Argo CD polls; Argo CD bootstrapped
 *         by the steps in docs/usage.md. Writes .e2e/kubeconfig (contexts hub, spoke) and .e2e/git-remote,
 *         prints both.
 * down:   stops every process `up` started, by PID, and removes the real nodes (their pods,
 *         mounts, cgroups, network namespaces and routes).
 * status: which of those processes run, and Argo CD's Applications.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootstrapArgocd, spokeAccess } from "./argocd.ts";
import { type Cluster, clusterLayout, kwokNodes, startControlPlane, waitFor } from "./controlplane.ts";
import { GATEWAY_NAMESPACES, GATEWAY_ON_EVERY_CLUSTER, REAL_GATEWAY } from "./gateway.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { kubectl } from "./kubectl.ts";
import {
  BIN,
  CLUSTER_INFO,
  CRDS,
  GIT_REMOTE_FILE,
  KUBECONFIG,
  PORTS,
  READONLY_ACCOUNT,
  REAL_NODE_CLUSTERS,
  REPO_ROOT,
  SPOKE_CLUSTERS,
  STATE,
  TOOLS,
} from "./layout.ts";
import { s3AccessPolicy, s3Endpoint, startModelStore, uploadReleases } from "./model-store.ts";
import {
  apiServiceEndpoints,
  modelServerImage,
  REAL_NODE_TAINT,
  realNodePlacementPolicy,
  removeNode,
  startNode,
} from "./node.ts";
import { alive, logFile, readPids, start, stopAll } from "./processes.ts";
import { LEAVE_OUT_NETWORK_APPS, seedRepository } from "./seed.ts";

const NEEDED = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubectl",
  "kwok",
  "kustomize",
  "argocd-application-controller",
  "argocd-applicationset-controller",
  "argocd-repo-server",
  "argocd-server",
  "argocd-bcrypt",
  "containerd",
  "containerd-shim-runc-v2",
  "ctr",
  "kubelet",
  "kube-proxy",
];

const REAL_ONLY = REAL_NODE_CLUSTERS;

/**
 * The namespaces whose pods the real node of `cluster` runs when the real gateway is up: on the
 * hub Envoy Gateway's and metrics-server's; elsewhere metrics-server's only (its APIService on
 * kwok never becomes Available, so its Application would stay Progressing and hold the root app's
 * waves; the spoke's Envoy Gateway stays on kwok, gateway.ts GATEWAY_ON_EVERY_CLUSTER).
 */
function gatewayNamespaces(cluster: string): string[] {
  return cluster === "hub" || GATEWAY_ON_EVERY_CLUSTER ? [...GATEWAY_NAMESPACES] : ["kube-system"];
}

/** What this control plane does not have, so the e2e knows which health it cannot expect. */
export const NOT_HERE = [
  ...(REAL_GATEWAY
    ? [
        "Gateway controller on the spoke: Envoy Gateway's pods there are kwok's, its routes get no status; the seed's argocd-cm counts a route without status as Healthy (the hub's routes have Envoy Gateway's status)",
      ]
    : [
        "metrics API (no metrics-server): HorizontalPodAutoscalers report FailedGetResourceMetric, Argo CD shows them Degraded",
        "Gateway controller (without `setup-cluster.sh`'s gateway step, with E2E_GATEWAY=0, or without real nodes): no HTTPRoute is ever Accepted; the seed's argocd-cm counts a route without status as Healthy (a rejected one stays Degraded)",
      ]),
  `container runtime only on the real nodes: product pods run there in ${[...REAL_ONLY].join(", ")}; elsewhere kwok marks pods Running and Ready and no container runs`,
  "NetworkPolicy enforcement (the CNI bridge plugin enforces none): the rendered policies are admitted, not applied",
  "IRSA: a MutatingAdmissionPolicy gives product pods moto's static credentials and S3 endpoint (model-store.ts)",
];

function log(line: string): void {
  console.log(line);
}

async function up(): Promise<void> {
  const t0 = Date.now();
  const missing = NEEDED.filter((b) => !existsSync(join(BIN, b)));
  const upstream = [
    join(TOOLS, "kwok-stages.yaml"),
    CRDS,
    join(TOOLS, "argocd-install/httproute-health.lua"),
  ];
  if (missing.length > 0 || upstream.some((f) => !existsSync(f))) {
    throw new Error(
      `missing in .tools/: ${missing.join(", ") || "crds"}; run: bash scripts/setup-cluster.sh`,
    );
  }
  const running = readPids().filter(alive);
  if (running.length > 0) {
    log(`already up (${running.length} processes); 'npm run cluster -- down' first to start afresh`);
    printEndpoints();
    return;
  }
  // a node left behind by an interrupted run: its mounts live under STATE
  for (const c of ["hub", "spoke"] as const) await removeNode(c, log);
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });
  const serverImage = modelServerImage();

  const hub = clusterLayout("hub");
  const spoke = clusterLayout("spoke");
  await Promise.all([startControlPlane(hub), startControlPlane(spoke)]);
  writeKubeconfig(KUBECONFIG, [hub.admin, spoke.admin], "hub");
  log(`control planes ready (${seconds(t0)}s): hub ${hub.server}, spoke ${spoke.server}`);

  for (const c of [hub, spoke]) {
    kubectl(
      c.name,
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: kwokNodes(c, 2) }),
    );
    kubectl(
      c.name,
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
          apiServiceEndpoints(c.name),
          ...s3AccessPolicy(),
          ...(REAL_ONLY.has(c.name) ? realNodePlacementPolicy(c.name) : []),
          // the real gateway's pods (Envoy Gateway's controller and Envoy, metrics-server) by namespace
          ...(REAL_GATEWAY
            ? realNodePlacementPolicy(
                c.name,
                {
                  namespaceSelector: {
                    matchExpressions: [
                      {
                        key: "kubernetes.io/metadata.name",
                        operator: "In",
                        values: gatewayNamespaces(c.name),
                      },
                    ],
                  },
                },
                "e2e-real-node-placement-gateway",
              )
            : []),
        ],
      }),
    );
  }
  const taint = `${REAL_NODE_TAINT.key}=${REAL_NODE_TAINT.value}:${REAL_NODE_TAINT.effect}`;
  for (const c of [hub, spoke]) await startNode(c, { taints: [taint] });
  // on the host end of the hub node's link, which startNode created
  startModelStore();
  await waitFor("S3 server (moto)", async () => (await fetch(`${s3Endpoint()}/moto-api/`)).ok, 60_000);
  const uploaded = await uploadReleases();
  log(`model store ${s3Endpoint()}: ${uploaded.length} release files`);
  await Promise.all([hub, spoke].map((c) => waitNodesReady(c)));
  log(
    `kwok and real nodes Ready (${seconds(t0)}s); product pods on the real node in: ${[...REAL_ONLY].join(", ")}`,
  );

  const remoteUrl = `http://127.0.0.1:${PORTS.git}/wms-gitops.git`;
  start(
    "git-http",
    process.execPath,
    [
      "--import",
      "tsx",
      join(REPO_ROOT, "test/e2e/cluster/git-http.ts"),
      join(STATE, "git"),
      String(PORTS.git),
    ],
    {
      cwd: REPO_ROOT,
    },
  );
  const seeded = seedRepository(remoteUrl, spokeAccess(spoke), serverImage);
  await waitFor(
    "git server",
    async () => (await fetch(`${remoteUrl}/info/refs?service=git-upload-pack`)).ok,
    30_000,
  );

  await bootstrapArgocd(hub, join(STATE, "seed"));
  writeFileSync(GIT_REMOTE_FILE, `${remoteUrl}\n`);
  writeFileSync(
    CLUSTER_INFO,
    `${JSON.stringify(
      {
        kubeconfig: KUBECONFIG,
        gitRemote: remoteUrl,
        hub: { context: "hub", argocdCluster: "in-cluster" },
        spoke: { context: "spoke", argocdClusters: SPOKE_CLUSTERS.map((c) => c.name) },
        leftOut: seeded.leftOut,
        notHere: NOT_HERE,
        realNodeOnly: [...REAL_ONLY],
        serverImage,
        s3Endpoint: s3Endpoint(),
        realGateway: REAL_GATEWAY,
      },
      null,
      2,
    )}\n`,
  );
  log(`Argo CD bootstrapped (${seconds(t0)}s)`);
  if (seeded.leftOut.length > 0) {
    log(
      `\nleft out (E2E_LEAVE_OUT_NETWORK_APPS=${LEAVE_OUT_NETWORK_APPS ? "1" : "0"}: their sources need the internet):`,
    );
    for (const l of seeded.leftOut)
      log(`  ${l.name} (${l.file}): ${l.why}${l.replacedBy ? `\n    instead: ${l.replacedBy}` : ""}`);
  }
  log("\nthe seed commit (what Argo CD watches is this checkout plus):");
  for (const n of seeded.notes) log(`  ${n}`);
  log("\nnot on this control plane:");
  for (const n of NOT_HERE) log(`  ${n}`);
  log(`\nup in ${seconds(t0)}s`);
  printEndpoints();
}

function seconds(t0: number): string {
  return ((Date.now() - t0) / 1000).toFixed(1);
}

function printEndpoints(): void {
  log(`kubeconfig: ${KUBECONFIG}   (contexts: hub, spoke)`);
  log(
    `git remote: ${existsSync(GIT_REMOTE_FILE) ? readFileSync(GIT_REMOTE_FILE, "utf8").trim() : "(not written)"}   (push main there)`,
  );
  log(
    `argocd:     https://127.0.0.1:${PORTS.argocdServer}   (self-signed; account ${READONLY_ACCOUNT}, password in ${join(STATE, "argocd/readonly-password")})`,
  );
}

async function waitNodesReady(c: Cluster): Promise<void> {
  await waitFor(
    `${c.name} nodes Ready (2 kwok, 1 real)`,
    async () => {
      const out = kubectl(c.name, [
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}",
      ]);
      const states = out.trim().split(/\s+/);
      return states.length >= 3 && states.every((s) => s === "True");
    },
    120_000,
  );
}

async function down(): Promise<void> {
  if (readPids().length === 0) log("nothing recorded in .e2e/pids.json");
  await stopAll(log);
  for (const c of ["hub", "spoke"] as const) {
    await removeNode(c, log);
    log(`${c} real node removed`);
  }
}

function status(): void {
  const pids = readPids();
  if (pids.length === 0) {
    log("down (no processes recorded)");
    return;
  }
  for (const p of pids)
    log(`${alive(p) ? "running" : "STOPPED"}  ${p.name.padEnd(36)} pid ${p.pid}  log ${logFile(p.name)}`);
  printEndpoints();
  try {
    log(kubectl("hub", ["-n", "argocd", "get", "applications"]));
  } catch (e) {
    log(`Applications: ${(e as Error).message}`);
  }
}

const USAGE = "usage: npm run cluster -- up | down | status";
const [cmd, ...rest] = process.argv.slice(2);
if (rest.length > 0) {
  console.error(`unexpected arguments: ${rest.join(" ")}\n${USAGE}`);
  process.exit(2);
}
const run = { up, down, status }[cmd ?? ""];
if (!run) {
  console.error(cmd ? `unknown command '${cmd}'\n${USAGE}` : USAGE);
  process.exit(2);
}
try {
  await run();
} catch (e) {
  console.error(`Error: ${(e as Error).message}`);
  process.exitCode = 1;
}
