/**
 * Where the repository pins the releases whose schemas the validator uses, and which Go module
 * (at which version) carries each release's CRDs or OpenAPI. One definition, read by the vendor
 * script (to fetch exactly what runs) and by the tests (to fail when a pin and its schema
 * disagree).
 *
 * Pins are read from the repository as committed: terraform/envs/<env>/terraform.tfvars
 * (`kubernetes_version`), apps/argocd/kustomization.yaml (Argo CD's install URL), and every
 * Argo CD Application/ApplicationSet source in apps/ that names a Helm chart (`chart` +
 * `targetRevision`). Where a chart's version is not its Go module's, CHART_TABLE says what the
 * chart deploys, with the release note that says so.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { readInputFile } from "../../src/repo-file.ts";
import { lineAtOffset, yamlData } from "../../src/yaml-source.ts";

/** A version as the repository states it, and where. */
export interface Pin {
  version: string;
  /** Repository-relative file the version was read from. */
  file: string;
}

/** One release the validator has schemas for: what the repo pins and what is downloaded. */
export interface Source {
  /** Short name, also the schema file name (`<component>.json`). */
  component: string;
  /** What the repository pins (undefined: not pinned in the repo yet; see `note`). */
  pin?: Pin;
  /** Go module and version the schemas are generated from (`go mod download`). */
  module: string;
  moduleVersion: string;
  /** Folders (inside the module) whose YAML files are CustomResourceDefinitions. */
  crdDirs: string[];
  note?: string;
}

export class PinError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly hint: string,
  ) {
    super(`${file}: ${message} (fix: ${hint})`);
    this.name = "PinError";
  }
}

/**
 * Kubernetes minor → the k8s.io/kubernetes release whose api/openapi-spec is used. The patch
 * is the local control plane's (issue 9); the OpenAPI of a minor does not change in patches.
 */
export const KUBERNETES_RELEASE: Record<string, string> = { "1.36": "v1.36.3" };

/**
 * kube-prometheus-stack chart major → the prometheus-operator release its CRDs come from, and
 * the Prometheus the chart deploys (its `prometheus.prometheusSpec.image.tag` default), which
 * is the promtool the rules are tested with (scripts/setup-prometheus.sh). Sources:
 * - 86.x → operator v0.91.0: https://github.com/prometheus-community/helm-charts/pull/6947
 * - 87.x → operator v0.92.x: https://github.com/prometheus-community/helm-charts/pull/7012;
 *   87.5.0 deploys Prometheus v3.13.0: https://github.com/prometheus-community/helm-charts/pull/7054
 * - 88.x → operator v0.93.0: https://github.com/prometheus-community/helm-charts/pull/7152
 * - 91.x → operator v0.94.0: the chart metadata of 91.4.1 (`appVersion: v0.94.0`), as quoted in
 *   the 91.4.1 install records found by the search tool; 91.5.0 is a minor of the same major
 *   (release notes: https://github.com/ocf/kubernetes/pull/166).
 * Prometheus: the newest image bump in the chart's release notes read here is v3.13.0 (87.5.0,
 * https://github.com/prometheus-community/helm-charts/pull/7054); the 88-91 notes read
 * (ocf/kubernetes#164, #166, both truncated) list none later, so 88.x and 91.x say v3.13.0: the
 * Prometheus 3 line the chart deploys, exact patch not confirmed.
 * Only these operator releases are served by the Go proxy here: v0.88.0, v0.89.0, v0.91.0-v0.94.0.
 */
export const KUBE_PROMETHEUS_STACK: Record<string, { operator: string; prometheus: string }> = {
  "86": { operator: "v0.91.0", prometheus: "v3.11.2" },
  "87": { operator: "v0.92.0", prometheus: "v3.13.0" },
  "88": { operator: "v0.93.0", prometheus: "v3.13.0" },
  "91": { operator: "v0.94.0", prometheus: "v3.13.0" },
};

/**
 * Pins whose release cannot be downloaded as a Go module here: the schemas come from the
 * newest release that can, and say so. Keyed by the exact pin, so a new pin fails the tests
 * until this is looked at again.
 */
export const STAND_INS: Record<string, { pin: string; moduleVersion: string; why: string }> = {
  "external-secrets": {
    pin: "2.10.0",
    moduleVersion: "v1.3.2",
    why:
      "External Secrets 2.x tags are not Go module versions (its go.mod path has no /v2): the proxy answers " +
      "403 for @v2.10.0, /v2@v2.10.0 and /apis@v2.10.0; v1.3.2 is the newest it serves. Both serve " +
      "external-secrets.io/v1; a field added in 2.x is rejected (stricter, never looser)",
  },
  "argo-cd": {
    pin: "v3.5.9",
    moduleVersion: "v3.5.8",
    why:
      "the proxy answers 403 for github.com/argoproj/argo-cd/v3@v3.5.9 (2026-12-07); v3.5.8 is the newest " +
      "3.5 patch it serves, and its manifests/crds are byte for byte those of v3.5.7 (a patch release " +
      "changes no CRD); the e2e builds v3.5.8 too (scripts/setup-cluster.sh, docs/versions.md)",
  },
};

/**
 * Components not (yet) pinned in apps/: their current release, so the kinds other engineers
 * add have schemas. A pin appearing in apps/ replaces these (and a mismatch fails the tests).
 * Versions: the Go proxy's latest (`go list -m -json <module>@latest`, 2026-12-01).
 */
export const UNPINNED_DEFAULTS: Record<string, string> = {
  "external-secrets": "v1.3.2",
  "cert-manager": "v1.21.2",
  karpenter: "v1.15.2",
};

/**
 * The Go module version a component's pin means (undefined: not known, see the tables above).
 * One definition for the vendor script and the pin test.
 */
export function moduleVersionOf(component: string, pin: string): string | undefined {
  if (component === "prometheus-operator") return KUBE_PROMETHEUS_STACK[pin.split(".")[0] ?? ""]?.operator;
  const standIn = STAND_INS[component];
  if (standIn && standIn.pin === pin) return standIn.moduleVersion;
  return vPrefixed(pin);
}

/** Chart name (as an Argo CD source names it) → component. */
const CHART_COMPONENT: Record<string, string> = {
  "gateway-helm": "envoy-gateway",
  "gateway-crds-helm": "envoy-gateway",
  "kube-prometheus-stack": "prometheus-operator",
  "external-secrets": "external-secrets",
  "cert-manager": "cert-manager",
  karpenter: "karpenter",
  "karpenter-crd": "karpenter",
};

const vPrefixed = (v: string) => (v.startsWith("v") ? v : `v${v}`);

function yamlFiles(dir: string): string[] {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .flatMap((e) =>
      e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
    )
    .sort();
}

interface ChartSource {
  chart?: unknown;
  repoURL?: unknown;
  targetRevision?: unknown;
  path?: unknown;
}

/** Every pin the repository states, by component (first found wins; disagreements are errors). */
export interface RepoPins {
  kubernetes: Pin;
  argocd: Pin;
  /** Chart and other pins by component, e.g. `envoy-gateway`, `prometheus-operator`. */
  components: Record<string, Pin>;
  /** Gateway API, when apps/ installs it itself (else Envoy Gateway's go.mod says). */
  gatewayApi?: Pin;
}

function readKubernetes(root: string): Pin {
  const envs = join(root, "terraform/envs");
  const found: Pin[] = [];
  for (const env of readdirSync(envs).sort()) {
    const file = join(envs, env, "terraform.tfvars");
    if (!existsSync(file)) continue;
    const text = readInputFile(file, { root });
    const m = /^\s*kubernetes_version\s*=\s*"([^"]+)"/m.exec(text);
    if (m?.[1]) found.push({ version: m[1], file: relative(root, file) });
  }
  const first = found[0];
  if (!first) {
    throw new PinError(
      "terraform/envs",
      "no kubernetes_version in any terraform.tfvars",
      "pin the EKS minor",
    );
  }
  const other = found.find((p) => p.version !== first.version);
  if (other) {
    throw new PinError(
      other.file,
      `kubernetes_version "${other.version}" differs from "${first.version}" in ${first.file}`,
      "every cluster runs the one minor the manifests are validated against",
    );
  }
  return first;
}

function readArgoCd(root: string): Pin {
  const file = "apps/argocd/kustomization.yaml";
  const text = readInputFile(join(root, file), { root });
  const m = /argoproj\/argo-cd\S*?[/=@](v\d+\.\d+\.\d+)\b/.exec(text);
  if (!m?.[1]) {
    throw new PinError(
      file,
      "no Argo CD release tag in its resources",
      "reference manifests of a tag, e.g. …/v3.5.9/…",
    );
  }
  return { version: m[1], file };
}

function sourcesOf(doc: Record<string, unknown>): ChartSource[] {
  const spec = doc.spec as Record<string, unknown> | undefined;
  if (!spec) return [];
  const appSpec =
    doc.kind === "ApplicationSet"
      ? ((spec.template as Record<string, unknown> | undefined)?.spec as Record<string, unknown> | undefined)
      : spec;
  if (!appSpec) return [];
  const list = [appSpec.source, ...((appSpec.sources as unknown[]) ?? [])];
  return list.filter((s): s is ChartSource => !!s && typeof s === "object");
}

/** Reads every pin from a repository checkout (apps/, terraform/). */
export function readRepoPins(root: string): RepoPins {
  const components: Record<string, Pin> = {};
  let gatewayApi: Pin | undefined;
  const set = (component: string, pin: Pin) => {
    const had = components[component];
    if (had && had.version !== pin.version) {
      throw new PinError(
        pin.file,
        `${component} pinned at ${pin.version} here but ${had.version} in ${had.file}`,
        "one version per component",
      );
    }
    components[component] ??= pin;
  };
  for (const path of yamlFiles(join(root, "apps"))) {
    const file = relative(root, path);
    const text = readInputFile(path, { root });
    const gw = /kubernetes-sigs\/gateway-api\S*?[/=@](v\d+\.\d+\.\d+)\b/.exec(text);
    if (gw?.[1]) gatewayApi ??= { version: gw[1], file };
    if (file.includes("/tests/")) continue;
    for (const d of parseAllDocuments(text)) {
      const doc = yamlData(d, file, lineAtOffset(text)) as Record<string, unknown> | null;
      if (!doc || (doc.kind !== "Application" && doc.kind !== "ApplicationSet")) continue;
      for (const s of sourcesOf(doc)) {
        if (typeof s.chart !== "string" || typeof s.targetRevision !== "string") continue;
        const chart = s.chart.slice(s.chart.lastIndexOf("/") + 1);
        const component = CHART_COMPONENT[chart];
        if (component) set(component, { version: s.targetRevision, file });
      }
    }
  }
  return { kubernetes: readKubernetes(root), argocd: readArgoCd(root), components, gatewayApi };
}

/** Argo CD's module path carries its major: github.com/argoproj/argo-cd/v3. */
const argoModule = (version: string) => {
  const major = Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
  return major >= 2 ? `github.com/argoproj/argo-cd/v${major}` : "github.com/argoproj/argo-cd";
};

/**
 * The sources to generate schemas from, given the repo's pins. `envoyGatewayApi` is the Gateway
 * API version Envoy Gateway's go.mod requires (what its chart bundles), used when apps/ does not
 * install Gateway API itself.
 */
export function sourcesFor(pins: RepoPins, envoyGatewayApi?: string): Source[] {
  const out: Source[] = [];
  const k8s = KUBERNETES_RELEASE[pins.kubernetes.version];
  if (!k8s) {
    throw new PinError(
      pins.kubernetes.file,
      `no Kubernetes release known for minor ${pins.kubernetes.version}`,
      `add it to KUBERNETES_RELEASE in generator/tools/k8s-schemas/pins.ts (known: ${Object.keys(KUBERNETES_RELEASE).join(", ")})`,
    );
  }
  out.push({
    component: "kubernetes",
    pin: pins.kubernetes,
    module: "k8s.io/kubernetes",
    moduleVersion: k8s,
    crdDirs: [],
  });
  out.push({
    component: "argo-cd",
    pin: pins.argocd,
    module: argoModule(pins.argocd.version),
    moduleVersion: moduleVersionOf("argo-cd", pins.argocd.version) ?? pins.argocd.version,
    crdDirs: ["manifests/crds"],
    ...(STAND_INS["argo-cd"]?.pin === pins.argocd.version
      ? { note: `stand-in: ${STAND_INS["argo-cd"].why}` }
      : {}),
  });
  const c = pins.components;
  const envoy = c["envoy-gateway"];
  if (envoy) {
    out.push({
      component: "envoy-gateway",
      pin: envoy,
      module: "github.com/envoyproxy/gateway",
      moduleVersion: vPrefixed(envoy.version),
      crdDirs: ["charts/gateway-helm/charts/crds/crds/generated"],
    });
  }
  const gwVersion = pins.gatewayApi?.version ?? envoyGatewayApi;
  if (gwVersion) {
    out.push({
      component: "gateway-api",
      pin: pins.gatewayApi,
      module: "sigs.k8s.io/gateway-api",
      moduleVersion: gwVersion,
      crdDirs: ["config/crd/standard"],
      note: pins.gatewayApi
        ? undefined
        : `the Gateway API release Envoy Gateway ${envoy?.version}'s go.mod requires (its chart bundles these CRDs)`,
    });
  }
  const kps = c["prometheus-operator"];
  if (kps) {
    const row = KUBE_PROMETHEUS_STACK[kps.version.split(".")[0] ?? ""];
    if (!row) {
      throw new PinError(
        kps.file,
        `kube-prometheus-stack ${kps.version}: which prometheus-operator it deploys is not known`,
        `add its chart major to KUBE_PROMETHEUS_STACK in generator/tools/k8s-schemas/pins.ts, from the chart's release notes (known: ${Object.keys(KUBE_PROMETHEUS_STACK).join(", ")})`,
      );
    }
    out.push({
      component: "prometheus-operator",
      pin: kps,
      module: "github.com/prometheus-operator/prometheus-operator",
      moduleVersion: row.operator,
      crdDirs: ["example/prometheus-operator-crd"],
      note: `kube-prometheus-stack ${kps.version} deploys prometheus-operator ${row.operator} and Prometheus ${row.prometheus}`,
    });
  }
  const optional: [string, string, string[]][] = [
    ["external-secrets", "github.com/external-secrets/external-secrets", ["config/crds/bases"]],
    ["cert-manager", "github.com/cert-manager/cert-manager", ["deploy/crds"]],
    ["karpenter", "github.com/aws/karpenter-provider-aws", ["pkg/apis/crds"]],
  ];
  for (const [component, module, crdDirs] of optional) {
    const pin = c[component];
    const version = pin ? moduleVersionOf(component, pin.version) : UNPINNED_DEFAULTS[component];
    if (!version) continue;
    const standIn = pin && STAND_INS[component]?.pin === pin.version ? STAND_INS[component] : undefined;
    out.push({
      component,
      pin,
      module,
      moduleVersion: version,
      crdDirs,
      note: standIn
        ? `stand-in: ${standIn.why}`
        : pin
          ? undefined
          : "not pinned in apps/ yet: the current release (UNPINNED_DEFAULTS)",
    });
  }
  return out;
}

/** The Prometheus release kube-prometheus-stack deploys, for the pinned chart. */
export function prometheusVersion(pins: RepoPins): string | undefined {
  const kps = pins.components["prometheus-operator"];
  return kps ? KUBE_PROMETHEUS_STACK[kps.version.split(".")[0] ?? ""]?.prometheus : undefined;
}

/** Prometheus v3.XX.Y is the Go module github.com/prometheus/prometheus v0.3XX.Y. */
export function prometheusModuleVersion(v: string): string {
  const m = /^v3\.(\d+)\.(\d+)$/.exec(v);
  if (!m) throw new Error(`not a Prometheus 3 version: ${v}`);
  return `v0.${300 + Number(m[1])}.${m[2]}`;
}

/** What index.json records for one schema source (see validate/index.ts, SchemaSource). */
export interface RecordedSource {
  module: string;
  version: string;
  pinnedIn?: string;
  pin?: string;
}

/**
 * Every way the repository's pins and the recorded schema sources disagree (empty: the
 * schemas are of exactly what the repository pins). Each line names the pin, its file, and
 * the fix.
 */
export function pinDisagreements(
  root: string,
  recorded: { kubernetesVersion: string; sources: Record<string, RecordedSource> },
): string[] {
  const out: string[] = [];
  let pins: RepoPins;
  try {
    pins = readRepoPins(root);
  } catch (e) {
    return [e instanceof Error ? e.message : String(e)];
  }
  const rerun = "rerun `npm run schemas:vendor` (generator/schemas/k8s/README.md)";
  const expect = (component: string, pin: Pin | undefined, moduleVersion?: string) => {
    const r = recorded.sources[component];
    if (!pin) return;
    if (!r) {
      out.push(`${pin.file}: ${component} ${pin.version} is pinned but has no schemas; ${rerun}`);
      return;
    }
    if (r.pin !== pin.version || r.pinnedIn !== pin.file) {
      out.push(
        `${pin.file}: ${component} is pinned at ${pin.version}, its schemas are of ${r.pin ?? "no pin"} (${r.pinnedIn ?? "not pinned"}); ${rerun}`,
      );
    }
    if (moduleVersion && r.version !== moduleVersion) {
      out.push(
        `${pin.file}: ${component} ${pin.version} means ${moduleVersion}, its schemas come from ${r.module}@${r.version}; ${rerun}`,
      );
    }
  };
  expect("kubernetes", pins.kubernetes, KUBERNETES_RELEASE[pins.kubernetes.version]);
  if (recorded.kubernetesVersion !== pins.kubernetes.version) {
    out.push(
      `${pins.kubernetes.file}: Kubernetes ${pins.kubernetes.version}, the built-in schemas are of ${recorded.kubernetesVersion}; ${rerun}`,
    );
  }
  expect("argo-cd", pins.argocd, moduleVersionOf("argo-cd", pins.argocd.version));
  expect("gateway-api", pins.gatewayApi, pins.gatewayApi?.version);
  for (const [component, pin] of Object.entries(pins.components)) {
    const moduleVersion = moduleVersionOf(component, pin.version);
    if (!moduleVersion)
      out.push(`${pin.file}: ${component} ${pin.version} is not in KUBE_PROMETHEUS_STACK (pins.ts)`);
    expect(component, pin, moduleVersion);
  }
  // A recorded pin that the repository no longer states (component removed or moved).
  const stated = new Set(
    [pins.kubernetes, pins.argocd, pins.gatewayApi, ...Object.values(pins.components)].map((p) => p?.file),
  );
  for (const [component, r] of Object.entries(recorded.sources)) {
    if (r.pinnedIn && !stated.has(r.pinnedIn)) {
      out.push(
        `${r.pinnedIn}: the schemas of ${component} were made from a pin there, which the repository no longer states; ${rerun}`,
      );
    }
  }
  return out;
}
