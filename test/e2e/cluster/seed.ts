/**
 * The repository Argo CD watches: a bare repository on the loopback git server, seeded with
 * this checkout's HEAD plus one commit that adapts it to a machine without the internet. That
 * commit is what an operator of an offline cluster would commit; every change is listed in its
 * message and by `up`:
 *  - every repoURL (and AppProject sourceRepo) naming this repository points at the loopback
 *    git server instead;
 *  - apps/argocd: the remote install.yaml becomes the same file from the Go module download,
 *    the cluster secrets of the spoke get its loopback address, CA and a ServiceAccount token
 *    (the gitops bridge terraform's outputs are on EKS), and argocd-cm / argocd-cmd-params-cm
 *    get the e2e's settings (E2E_ARGOCD_SETTINGS): Argo CD syncs these files itself afterwards;
 *  - apps/gateway-api: the remote standard-install.yaml becomes the same CRDs from the
 *    sigs.k8s.io/gateway-api module download, still delivered by Argo CD to every cluster;
 *  - every environment's server.image is the model server image setup-cluster.sh built here,
 *    by digest (node.ts modelServerImage), rendered again: what CI's image build commits;
 *  - platform apps whose sources cannot be fetched here (remote Helm charts) are left out
 *    (LEAVE_OUT_NETWORK_APPS), those whose CRDs the rest needs replaced by those CRDs from the
 *    operator's module download (CRD_STAND_INS), and the apps that only work with a left-out
 *    controller running left out with them (NEEDS_LEFT_OUT).
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments, parseDocument, stringify } from "yaml";
import { adaptForGateway, GATEWAY_ON_EVERY_CLUSTER, gatewayStandIn, REAL_GATEWAY } from "./gateway.ts";
import { ARGOCD_INSTALL, CRDS, READONLY_ACCOUNT, REPO_ROOT, SPOKE_CLUSTERS, STATE } from "./layout.ts";

/** The one switch: leave out platform apps whose sources need the internet (default on). */
export const LEAVE_OUT_NETWORK_APPS = process.env.E2E_LEAVE_OUT_NETWORK_APPS !== "0";

export const UPSTREAM_REPO_URL = "https://github.com/example-org/wms-gitops.git";

/** How often Argo CD looks at git here (apps/argocd says 60s; the e2e waits on it). */
export const E2E_RECONCILIATION = "10s";

/**
 * Left-out charts whose CRDs the kept apps and the rendered environments use (ServiceMonitor,
 * PrometheusRule): the ApplicationSet stays, same name, wave and clusters, with a path source
 * holding the CRDs of the operator release the chart ships (.tools/crds/<dir>).
 */
const CRD_STAND_INS: Record<string, { dir: string; from: string }> = {
  "kube-prometheus-stack": {
    dir: "prometheus-operator",
    from: "github.com/prometheus-operator/prometheus-operator (the operator release chart 91.5.0 ships)",
  },
  ...(REAL_GATEWAY
    ? {
        "envoy-gateway-crds": {
          dir: "envoy-gateway",
          from: "github.com/envoyproxy/gateway (charts/gateway-helm/charts/crds/crds/generated at the pinned tag)",
        },
      }
    : {}),
};

/** Kept sources that only become Healthy with a left-out controller running. */
const NEEDS_LEFT_OUT: Record<string, string> = {
  ...(REAL_GATEWAY
    ? {}
    : {
        "wms-gateway":
          "its Gateway needs Envoy Gateway and a load balancer, its Certificate cert-manager and ACME (left out)",
      }),
  "secret-store": "its ClusterSecretStore needs the External Secrets Operator (left out)",
  "mlflow-db-secret": "its ExternalSecret needs the External Secrets Operator (left out)",
  "argocd-sso": "its ExternalSecret needs the External Secrets Operator (left out)",
  "karpenter-nodes": "its NodePool and EC2NodeClass need Karpenter and EC2 (left out)",
};

interface Source {
  repoURL?: string;
  chart?: string;
  path?: string;
  targetRevision?: string;
  [k: string]: unknown;
}

interface AppDoc {
  kind?: string;
  metadata?: { name?: string };
  spec?: {
    source?: Source;
    destination?: { namespace?: string };
    template?: { spec?: { source?: Source; destination?: { namespace?: string } } };
  };
}

export interface LeftOut {
  file: string;
  name: string;
  why: string;
  /** What stands in for it, when something does. */
  replacedBy?: string;
}

export interface SpokeAccess {
  /** https port of the spoke's API server on loopback */
  port: string;
  caData: string;
  token: string;
}

function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function appSource(obj: AppDoc): Source | undefined {
  return obj.kind === "ApplicationSet" ? obj.spec?.template?.spec?.source : obj.spec?.source;
}

/** Why a source cannot be fetched on this machine, or undefined when it can. */
function unreachable(root: string, source: Source): string | undefined {
  if (typeof source.chart === "string") return `Helm chart ${source.chart} from ${source.repoURL}`;
  const path = source.path;
  if (typeof path === "string" && existsSync(join(root, path, "kustomization.yaml"))) {
    const k = parse(readFileSync(join(root, path, "kustomization.yaml"), "utf8")) as { resources?: string[] };
    const remote = (k.resources ?? []).find((r) => /^https?:\/\//.test(r));
    if (remote) return `${path}/kustomization.yaml fetches ${remote}`;
  }
  return undefined;
}

interface Kustomization {
  resources: string[];
  patches?: unknown[];
}

/** Replace a kustomization's one remote resource ending in `suffix` by a local file. */
function localizeResource(dir: string, suffix: string, file: string, content: string): string {
  const kfile = join(dir, "kustomization.yaml");
  const text = readFileSync(kfile, "utf8");
  const k = parse(text) as Kustomization;
  const remote = k.resources.find((r) => /^https?:\/\//.test(r) && r.endsWith(suffix));
  if (!remote) throw new Error(`${kfile}: no remote resource ending in ${suffix} to replace`);
  writeFileSync(join(dir, file), content);
  writeFileSync(kfile, text.replace(remote, file));
  return remote;
}

/**
 * Argo CD's own HTTPRoute health check (from its module download) with one change: a route
 * without status is Healthy instead of "Waiting for HTTPRoute status", because no Gateway
 * controller runs here to accept it. A route a controller rejected stays Degraded.
 */
function httpRouteHealth(): string {
  const upstream = readFileSync(join(ARGOCD_INSTALL, "httproute-health.lua"), "utf8");
  const fallback = 'hs.status = "Progressing"\nhs.message = "Waiting for HTTPRoute status"';
  if (!upstream.includes(fallback))
    throw new Error(
      "Argo CD's HTTPRoute health.lua changed: review the e2e's stand-in (seed.ts httpRouteHealth)",
    );
  return upstream.replace(
    fallback,
    'hs.status = "Healthy"\nhs.message = "no status: no Gateway controller on the local control plane (e2e)"',
  );
}

/** What the e2e sets in Argo CD's ConfigMaps, committed so that Argo CD's self-sync keeps it. */
function argocdSettings(): unknown[] {
  return [
    {
      patch: stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "argocd-cm" },
        data: {
          "timeout.reconciliation": E2E_RECONCILIATION,
          "timeout.reconciliation.jitter": "0s",
          // with the real gateway on every cluster every route has status: Argo CD's own check
          ...(GATEWAY_ON_EVERY_CLUSTER
            ? {}
            : { "resource.customizations.health.gateway.networking.k8s.io_HTTPRoute": httpRouteHealth() }),
          // the suite signs in to argocd-server as this local account (argocd.ts sets its
          // password); it gets argocd-rbac-cm's policy.default, read-only
          [`accounts.${READONLY_ACCOUNT}`]: "login",
        },
      }),
    },
    {
      patch: stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "argocd-cmd-params-cm" },
        data: { "applicationsetcontroller.requeue.after": E2E_RECONCILIATION },
      }),
    },
  ];
}

/** apps/argocd: install.yaml from the module download, the spoke's cluster secrets, the e2e's settings. */
function adaptArgocd(work: string, spoke: SpokeAccess, notes: string[]): void {
  const dir = join(work, "apps/argocd");
  const remote = localizeResource(
    dir,
    "/install.yaml",
    "install.yaml",
    readFileSync(join(ARGOCD_INSTALL, "install.yaml"), "utf8"),
  );
  notes.push(`apps/argocd: ${remote} -> install.yaml of the github.com/argoproj/argo-cd/v3 module download`);
  const kfile = join(dir, "kustomization.yaml");
  const k = parse(readFileSync(kfile, "utf8")) as Kustomization;
  k.patches = [...(k.patches ?? []), ...argocdSettings()];
  writeFileSync(kfile, stringify(k));
  notes.push(
    `apps/argocd: argocd-cm timeout.reconciliation ${E2E_RECONCILIATION}${GATEWAY_ON_EVERY_CLUSTER ? "" : ", HTTPRoute health for routes without status (no Gateway controller on a cluster)"}, local account ${READONLY_ACCOUNT} (login, read-only); ApplicationSet requeue ${E2E_RECONCILIATION}`,
  );
  for (const [i, c] of SPOKE_CLUSTERS.entries()) {
    const file = join(dir, "clusters", `${c.name}.yaml`);
    const secret = parse(readFileSync(file, "utf8")) as {
      metadata: { labels?: Record<string, string> };
      stringData: Record<string, string>;
    };
    secret.stringData.server = `https://${c.host}:${spoke.port}`;
    secret.stringData.config = JSON.stringify({
      bearerToken: spoke.token,
      tlsClientConfig: { insecure: false, caData: spoke.caData },
    });
    let also = "";
    if (i > 0 && secret.metadata.labels) {
      // The platform ApplicationSets select clusters by this label: one set of platform apps
      // per real cluster, or two Applications would fight over the same CRDs and namespaces.
      delete secret.metadata.labels.environment;
      also = `; no environment label: it is the cluster ${SPOKE_CLUSTERS[0]?.name} is, whose platform apps serve both`;
    }
    writeFileSync(file, stringify(secret));
    notes.push(
      `apps/argocd/clusters/${c.name}.yaml: server ${secret.stringData.server}, CA and token of the spoke${also}`,
    );
  }
}

/**
 * The operator commit CI's image build makes: server.image of every environment names the image
 * by digest; `npm run render` (the generator, as a user runs it) brings rendered/ along.
 */
function pinServerImage(work: string, image: string, notes: string[]): void {
  const envs = readdirSync(join(work, "environments")).filter((e) =>
    existsSync(join(work, "environments", e, "environment.yaml")),
  );
  for (const env of envs) {
    const file = join(work, "environments", env, "environment.yaml");
    const text = readFileSync(file, "utf8");
    const current = parseDocument(text).getIn(["server", "image"]);
    if (typeof current !== "string" || !text.includes(current))
      throw new Error(`${file}: no server.image to pin (seed.ts pinServerImage)`);
    // the one value, as CI's commit changes it (comments and layout stay)
    writeFileSync(file, text.replace(current, image));
  }
  execFileSync(
    process.execPath,
    ["--import", "tsx", join(REPO_ROOT, "generator/src/cli.ts"), "render", "--root", work],
    {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  notes.push(
    `environments/{${envs.join(",")}}/environment.yaml: server.image ${image} (built here), rendered`,
  );
}

/** Rewrite `work` for the loopback git server; returns what was left out and what changed. */
export function adaptForLoopback(
  work: string,
  remoteUrl: string,
  spoke: SpokeAccess,
  serverImage?: string,
): { leftOut: LeftOut[]; notes: string[] } {
  const leftOut: LeftOut[] = [];
  const notes: string[] = [`repoURL ${UPSTREAM_REPO_URL} -> ${remoteUrl}`];
  adaptArgocd(work, spoke, notes);
  if (serverImage) pinServerImage(work, serverImage, notes);
  if (REAL_GATEWAY) adaptForGateway(work, notes);
  const gatewayApi = readdirSync(join(CRDS, "gateway-api"))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => readFileSync(join(CRDS, "gateway-api", f), "utf8"))
    .join("\n---\n");
  const remote = localizeResource(
    join(work, "apps/gateway-api"),
    "/standard-install.yaml",
    "standard-install.yaml",
    gatewayApi,
  );
  notes.push(
    `apps/gateway-api: ${remote} -> config/crd/standard of the sigs.k8s.io/gateway-api module download`,
  );

  const files = [
    "apps/root.yaml",
    ...readdirSync(join(work, "apps/argocd")).map((f) => `apps/argocd/${f}`),
    ...readdirSync(join(work, "apps/platform")).map((f) => `apps/platform/${f}`),
  ];
  for (const file of files.filter((f) => f.endsWith(".yaml"))) {
    const abs = join(work, file);
    const docs = parseAllDocuments(readFileSync(abs, "utf8"));
    const kept = docs.filter((doc) => {
      const obj = doc.toJS() as AppDoc | null;
      if (!LEAVE_OUT_NETWORK_APPS || (obj?.kind !== "Application" && obj?.kind !== "ApplicationSet"))
        return true;
      const name = obj.metadata?.name ?? "(unnamed)";
      const source = appSource(obj) ?? {};
      const why = unreachable(work, source) ?? NEEDS_LEFT_OUT[name];
      if (!why) return true;
      const gateway = REAL_GATEWAY && source.chart ? gatewayStandIn(work, name, source) : undefined;
      if (gateway) {
        const srcPath =
          obj.kind === "ApplicationSet" ? ["spec", "template", "spec", "source"] : ["spec", "source"];
        doc.setIn(srcPath, doc.createNode(gateway.source));
        leftOut.push({ file, name, why, replacedBy: gateway.replacedBy });
        return true;
      }
      const standIn = CRD_STAND_INS[name];
      if (standIn && source.chart) {
        const path = `e2e/crds/${name}`;
        cpSync(join(CRDS, standIn.dir), join(work, path), { recursive: true });
        const srcPath =
          obj.kind === "ApplicationSet" ? ["spec", "template", "spec", "source"] : ["spec", "source"];
        doc.setIn(srcPath, doc.createNode({ repoURL: UPSTREAM_REPO_URL, targetRevision: "main", path }));
        leftOut.push({ file, name, why, replacedBy: `its CRDs, from ${standIn.from}, in ${path}` });
        return true;
      }
      leftOut.push({ file, name, why });
      return false;
    });
    const text = kept.map((d) => d.toString()).join("---\n");
    writeFileSync(abs, text.split(UPSTREAM_REPO_URL).join(remoteUrl));
  }
  return { leftOut, notes };
}

export interface Seeded {
  bare: string;
  remoteUrl: string;
  leftOut: LeftOut[];
  notes: string[];
}

/** Create the bare repository and push HEAD plus the adapting commit to its main. */
export function seedRepository(remoteUrl: string, spoke: SpokeAccess, serverImage?: string): Seeded {
  const root = join(STATE, "git");
  const bare = join(root, "wms-gitops.git");
  const work = join(STATE, "seed");
  rmSync(bare, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  execFileSync("git", ["init", "--bare", "--initial-branch=main", bare], { stdio: "ignore" });
  git(bare, ["config", "http.receivepack", "true"]);
  execFileSync("git", ["clone", "--quiet", "--no-local", REPO_ROOT, work], { stdio: "ignore" });
  git(work, ["checkout", "--quiet", "-B", "main"]);
  const { leftOut, notes } = adaptForLoopback(work, remoteUrl, spoke, serverImage);
  git(work, ["add", "-A"]);
  const body = [
    "e2e: Argo CD watches the loopback git server",
    "",
    ...notes,
    ...leftOut.map(
      (l) => `left out: ${l.name} (${l.file}): ${l.why}${l.replacedBy ? `; instead: ${l.replacedBy}` : ""}`,
    ),
  ].join("\n");
  execFileSync(
    "git",
    ["-c", "user.name=e2e", "-c", "user.email=e2e@localhost", "commit", "--quiet", "-m", body],
    { cwd: work },
  );
  git(work, ["push", "--quiet", bare, "main:main"]);
  return { bare, remoteUrl, leftOut, notes };
}
