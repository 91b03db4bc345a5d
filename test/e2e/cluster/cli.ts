/**
 * npm run cluster -- up | down | status
 *
 * up:     two clusters on loopback (hub with Argo CD, spoke), each kube-apiserver + etcd +
 *         kube-controller-manager + kube-scheduler + kwok; a git server Argo CD polls; Argo CD
 *         bootstrapped by the README's steps. Writes .e2e/kubeconfig (contexts hub, spoke) and
 *         .e2e/git-remote, prints both.
 * down:   stops every process `up` started, by PID.
 * status: which of those processes run, and Argo CD's Applications.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootstrapArgocd, spokeAccess } from "./argocd.ts";
import { type Cluster, clusterLayout, kwokNodes, startControlPlane, waitFor } from "./controlplane.ts";
import { REAL_GATEWAY } from "./gateway.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { kubectl } from "./kubectl.ts";
import {
  BIN,
  CLUSTER_INFO,
  CRDS,
  GIT_REMOTE_FILE,
  KUBECONFIG,
  PORTS,
  REPO_ROOT,
  SPOKE_CLUSTERS,
  STATE,
  TOOLS,
} from "./layout.ts";
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
];

/** What this control plane does not have, so the e2e knows which health it cannot expect. */
export const NOT_HERE = [
  ...(REAL_GATEWAY
    ? [
        "Gateway controller on the spoke: Envoy Gateway's pods there are kwok's, its routes get no status; the seed's argocd-cm counts a route without status as Healthy (the hub's routes have Envoy Gateway's status)",
      ]
    : [
        "metrics API (no metrics-server): HorizontalPodAutoscalers report FailedGetResourceMetric, Argo CD shows them Degraded",
        "Gateway controller (Envoy Gateway is a left-out Helm chart): no HTTPRoute is ever Accepted; the seed's argocd-cm counts a route without status as Healthy (a rejected one stays Degraded)",
      ]),
  "container runtime: kwok marks pods Running and Ready; no container runs",
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
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });

  const hub = clusterLayout("hub");
  const spoke = clusterLayout("spoke");
  await Promise.all([startControlPlane(hub), startControlPlane(spoke)]);
  writeKubeconfig(KUBECONFIG, [hub.admin, spoke.admin], "hub");
  log(`control planes ready (${seconds(t0)}s): hub ${hub.server}, spoke ${spoke.server}`);

  for (const c of [hub, spoke]) {
    kubectl(
      c.name,
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: kwokNodes(c) }),
    );
  }
  await Promise.all([hub, spoke].map((c) => waitNodesReady(c)));
  log(`kwok nodes Ready (${seconds(t0)}s)`);

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
  const seeded = seedRepository(remoteUrl, spokeAccess(spoke));
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
}

async function waitNodesReady(c: Cluster): Promise<void> {
  await waitFor(
    `${c.name} kwok nodes Ready`,
    async () => {
      const out = kubectl(c.name, [
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}",
      ]);
      const states = out.trim().split(/\s+/);
      return states.length >= 2 && states.every((s) => s === "True");
    },
    60_000,
  );
}

async function down(): Promise<void> {
  if (readPids().length === 0) log("nothing recorded in .e2e/pids.json");
  await stopAll(log);
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
