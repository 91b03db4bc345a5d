/**
 * Argo CD on the hub, bootstrapped by the steps of docs/usage.md ("Bootstrap (an empty cluster)") on the
 * seeded checkout (seed.ts: its apps/argocd takes install.yaml from the Go module download and
 * names the spoke in its cluster secrets):
 *   kubectl apply --server-side --force-conflicts -k apps/argocd   (refused the AppProject once)
 *   kubectl wait --for=condition=Established crd/...
 *   kubectl apply --server-side --force-conflicts -k apps/argocd
 *   kubectl apply -n argocd -f apps/root.yaml
 * The Deployments and StatefulSet of install.yaml are admitted and "run" on kwok nodes; the
 * real work is done by the real binaries on loopback, each started with the environment its
 * manifest gives its container (ConfigMap and Secret references resolved from the cluster),
 * authenticated as its own ServiceAccount (a TokenRequest token), RBAC as installed.
 */

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Cluster } from "./controlplane.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { kubectl, kubectlJson } from "./kubectl.ts";
import { ARGOCD_NAMESPACE, BIN, PORTS, READONLY_ACCOUNT, STATE } from "./layout.ts";
import { start } from "./processes.ts";
import type { SpokeAccess } from "./seed.ts";

const NS = ARGOCD_NAMESPACE;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}

/** The environment the workload's first container would get, resolved from the live cluster. */
function workloadEnv(hub: string, kind: string, name: string): Record<string, string> {
  const w = kubectlJson<{ spec: { template: { spec: { containers: { env?: EnvVar[] }[] } } } }>(hub, [
    "-n",
    NS,
    "get",
    kind,
    name,
  ]);
  const env: EnvVar[] = w.spec.template.spec.containers[0]?.env ?? [];
  const cms = new Map<string, Record<string, string>>();
  const data = (k: "configmap" | "secret", n: string): Record<string, string> => {
    const key = `${k}/${n}`;
    if (!cms.has(key)) {
      try {
        const o = kubectlJson<{ data?: Record<string, string> }>(hub, ["-n", NS, "get", k, n]);
        const d: Record<string, string> = o.data ?? {};
        cms.set(
          key,
          k === "secret"
            ? Object.fromEntries(Object.entries(d).map(([a, b]) => [a, Buffer.from(b, "base64").toString()]))
            : d,
        );
      } catch {
        cms.set(key, {});
      }
    }
    return cms.get(key) ?? {};
  };
  const out: Record<string, string> = {};
  for (const e of env) {
    let v: string | undefined = e.value;
    const ref = e.valueFrom;
    if (ref?.configMapKeyRef) v = data("configmap", ref.configMapKeyRef.name)[ref.configMapKeyRef.key];
    if (ref?.secretKeyRef) v = data("secret", ref.secretKeyRef.name)[ref.secretKeyRef.key];
    if (ref?.fieldRef?.fieldPath === "metadata.namespace") v = NS;
    if (v !== undefined) out[e.name] = v;
  }
  return out;
}

function serviceAccountKubeconfig(hub: Cluster, sa: string): string {
  const token = kubectl(hub.name, ["-n", NS, "create", "token", sa, "--duration=48h"]).trim();
  const file = join(STATE, "argocd", `${sa}.kubeconfig`);
  writeKubeconfig(
    file,
    [{ name: "in-cluster", server: hub.server, ca: hub.pki.ca, user: { token }, namespace: NS }],
    "in-cluster",
  );
  return file;
}

/** Bootstrap step 1, the processes behind the manifests, the spoke's registration, Bootstrap step 2. */
export async function bootstrapArgocd(hub: Cluster, seedDir: string): Promise<void> {
  // docs/usage.md, "Bootstrap": the first apply creates Argo CD's CRDs and is refused the AppProject
  // until they are established; the wait, then the same apply again.
  const kustomization = join(seedDir, "apps/argocd");
  const apply = ["apply", "--server-side", "--force-conflicts", "-k", kustomization];
  try {
    kubectl(hub.name, apply);
  } catch (e) {
    if (!/appprojects\.argoproj\.io|no matches for kind "AppProject"/.test(String(e))) throw e;
  }
  kubectl(hub.name, [
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    "crd/appprojects.argoproj.io",
    "crd/applications.argoproj.io",
    "crd/applicationsets.argoproj.io",
  ]);
  kubectl(hub.name, apply);
  // argocd-redis's init container (argocd admin redis-initial-password) makes this secret in a
  // real cluster; kwok runs no containers, so it is made here the same way: a random password.
  const auth = randomBytes(16).toString("hex");
  kubectl(hub.name, ["-n", NS, "create", "secret", "generic", "argocd-redis", `--from-literal=auth=${auth}`]);

  const dir = join(STATE, "argocd");
  for (const d of ["tmp", "home", "tls", "ssh", "gpg", "helm", "kubecache"])
    mkdirSync(join(dir, d), { recursive: true });
  const common = {
    ARGOCD_FAKE_IN_CLUSTER: "true",
    // git-verify-wrapper.sh and gpg-wrapper.sh live beside the binaries, as in Argo CD's image
    PATH: `${BIN}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    ARGOCD_TLS_DATA_PATH: join(dir, "tls"),
    ARGOCD_SSH_DATA_PATH: join(dir, "ssh"),
    ARGOCD_GNUPGHOME: join(dir, "gpg"),
    ARGOCD_GPG_ENABLED: "false",
    HOME: join(dir, "home"),
    TMPDIR: join(dir, "tmp"),
  };
  const redis = `127.0.0.1:${PORTS.redis}`;
  const repo = `127.0.0.1:${PORTS.repoServer}`;
  start("argocd-redis", "/usr/bin/redis-server", [
    "--bind",
    "127.0.0.1",
    "--port",
    String(PORTS.redis),
    "--save",
    "",
    "--appendonly",
    "no",
    "--requirepass",
    auth,
  ]);
  start(
    "argocd-repo-server",
    join(BIN, "argocd-repo-server"),
    [
      "--address=127.0.0.1",
      `--port=${PORTS.repoServer}`,
      "--metrics-address=127.0.0.1",
      `--metrics-port=${PORTS.repoServerMetrics}`,
      `--redis=${redis}`,
    ],
    {
      env: {
        ...workloadEnv(hub.name, "deployment", "argocd-repo-server"),
        ...common,
        KUBECONFIG: serviceAccountKubeconfig(hub, "argocd-repo-server"),
        HELM_CACHE_HOME: join(dir, "helm"),
        HELM_CONFIG_HOME: join(dir, "helm"),
        HELM_DATA_HOME: join(dir, "helm"),
      },
    },
  );
  start(
    "argocd-application-controller",
    join(BIN, "argocd-application-controller"),
    [`--redis=${redis}`, `--repo-server=${repo}`, `--metrics-port=${PORTS.controllerMetrics}`],
    {
      env: {
        ...workloadEnv(hub.name, "statefulset", "argocd-application-controller"),
        ...common,
        KUBECONFIG: serviceAccountKubeconfig(hub, "argocd-application-controller"),
        KUBECACHEDIR: join(dir, "kubecache"),
        // the StatefulSet's one pod is argocd-application-controller-0: shard 0
        ARGOCD_CONTROLLER_SHARD: "0",
      },
    },
  );
  start(
    "argocd-applicationset-controller",
    join(BIN, "argocd-applicationset-controller"),
    [
      `--argocd-repo-server=${repo}`,
      `--metrics-addr=127.0.0.1:${PORTS.appsetMetrics}`,
      `--probe-addr=127.0.0.1:${PORTS.appsetProbe}`,
      `--webhook-addr=127.0.0.1:${PORTS.appsetWebhook}`,
    ],
    {
      env: {
        ...workloadEnv(hub.name, "deployment", "argocd-applicationset-controller"),
        ...common,
        KUBECONFIG: serviceAccountKubeconfig(hub, "argocd-applicationset-controller"),
      },
    },
  );
  // The local read-only account's password (argocd-cm accounts.wms-readonly: login, seed.ts):
  // what `argocd account update-password` writes into argocd-secret, a bcrypt hash and its mtime.
  const password = randomBytes(12).toString("hex");
  const hash = execFileSync(join(BIN, "argocd-bcrypt"), { input: `${password}\n`, encoding: "utf8" }).trim();
  kubectl(hub.name, [
    "-n",
    NS,
    "patch",
    "secret",
    "argocd-secret",
    "--type=merge",
    "-p",
    JSON.stringify({
      stringData: {
        [`accounts.${READONLY_ACCOUNT}.password`]: hash,
        [`accounts.${READONLY_ACCOUNT}.passwordMtime`]: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      },
    }),
  ]);
  writeFileSync(join(dir, "readonly-password"), `${password}\n`, { mode: 0o600 });
  // The API server and UI on loopback, TLS with the self-signed certificate it keeps in
  // argocd-secret (settings.InitializeSettings makes one when none is configured).
  start(
    "argocd-server",
    join(BIN, "argocd-server"),
    [
      "--address=127.0.0.1",
      `--port=${PORTS.argocdServer}`,
      "--metrics-address=127.0.0.1",
      `--metrics-port=${PORTS.argocdServerMetrics}`,
      `--redis=${redis}`,
      `--repo-server=${repo}`,
      // no Dex: SSO is the IdP's own OIDC (argocd-cm oidc.config), used only when someone signs
      // in through it, which the suite never does (nothing beyond loopback is reached)
    ],
    {
      env: {
        ...workloadEnv(hub.name, "deployment", "argocd-server"),
        ...common,
        KUBECONFIG: serviceAccountKubeconfig(hub, "argocd-server"),
      },
    },
  );
  // Bootstrap step 2 (docs/usage.md), from the seeded checkout (its repoURL points at the loopback git server).
  kubectl(hub.name, ["apply", "-n", NS, "-f", join(seedDir, "apps/root.yaml")]);
}

/** What `argocd cluster add` does on the spoke: a ServiceAccount with cluster-admin and a token
 * for it. The seed commits them into the cluster secrets of apps/argocd/clusters (seed.ts). */
export function spokeAccess(spoke: Cluster): SpokeAccess {
  const manager = { kind: "ServiceAccount", name: "argocd-manager", namespace: "kube-system" };
  kubectl(
    spoke.name,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "v1",
          kind: "ServiceAccount",
          metadata: { name: manager.name, namespace: manager.namespace },
        },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: "argocd-manager" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
          subjects: [manager],
        },
      ],
    }),
  );
  const token = kubectl(spoke.name, [
    "-n",
    "kube-system",
    "create",
    "token",
    "argocd-manager",
    "--duration=48h",
  ]).trim();
  return { port: new URL(spoke.server).port, caData: readFileSync(spoke.pki.ca).toString("base64"), token };
}
