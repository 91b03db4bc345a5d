/**
 * What apps/ delivers to which cluster, in which sync wave, read the way Argo CD reads it:
 * cluster secrets (argocd.argoproj.io/secret-type=cluster) are the clusters; an ApplicationSet's
 * cluster generator makes one Application per secret its label selector matches; an Application
 * names its cluster in destination.name. Pure functions over parsed objects, so the tests can
 * feed them a broken copy and watch them fail.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { parse, parseAllDocuments } from "yaml";

// biome-ignore lint/suspicious/noExplicitAny: manifests are read deep, as Argo CD does
export type Obj = Record<string, any> & { apiVersion: string; kind: string; metadata: Record<string, any> };
export interface Doc {
  file: string;
  index: number;
  object: Obj;
}

export const REPO_URL = "https://github.com/example-org/wms-gitops.git";

/** Groups served by the Kubernetes API server itself; every other group needs a CRD. */
const BUILT_IN_GROUPS = new Set([
  "",
  "apps",
  "batch",
  "autoscaling",
  "policy",
  "networking.k8s.io",
  "rbac.authorization.k8s.io",
  "admissionregistration.k8s.io",
  "scheduling.k8s.io",
  "storage.k8s.io",
  "coordination.k8s.io",
  "discovery.k8s.io",
  "apiextensions.k8s.io",
  "certificates.k8s.io",
  "node.k8s.io",
  "resource.k8s.io",
]);

export const groupOf = (apiVersion: string): string =>
  apiVersion.includes("/") ? (apiVersion.split("/")[0] ?? "") : "";
export const groupKind = (o: { apiVersion: string; kind: string }): string =>
  `${groupOf(o.apiVersion)}/${o.kind}`;
export const isCustomResource = (o: { apiVersion: string }): boolean =>
  !BUILT_IN_GROUPS.has(groupOf(o.apiVersion));

export function yamlFilesIn(dir: string, recurse: boolean): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return recurse ? yamlFilesIn(path, true) : [];
      return /\.ya?ml$/.test(e.name) ? [path] : [];
    })
    .sort();
}

export function readDocs(files: string[], root: string): Doc[] {
  return files.flatMap((f) =>
    parseAllDocuments(readFileSync(f, "utf8"))
      .map((d, index) => ({ file: relative(root, f), index, object: d.toJS() as Obj }))
      .filter((d) => d.object && typeof d.object === "object"),
  );
}

/** Every Kubernetes object under apps/: kustomize config and promtool tests are not objects. */
export function appsDocs(root: string): Doc[] {
  const files = yamlFilesIn(join(root, "apps"), true).filter(
    (f) => basename(f) !== "kustomization.yaml" && !f.includes("/tests/"),
  );
  return readDocs(files, root);
}

export interface Cluster {
  name: string;
  server: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  config: Record<string, unknown>;
  file: string;
}

export function clusterSecrets(docs: Doc[]): Cluster[] {
  return docs
    .filter(
      (d) =>
        d.object.kind === "Secret" &&
        d.object.metadata?.labels?.["argocd.argoproj.io/secret-type"] === "cluster",
    )
    .map((d) => {
      const data = d.object.stringData ?? {};
      return {
        name: String(data.name),
        server: String(data.server),
        labels: d.object.metadata.labels ?? {},
        annotations: d.object.metadata.annotations ?? {},
        config: JSON.parse(data.config ?? "{}") as Record<string, unknown>,
        file: d.file,
      };
    });
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Kubernetes LabelSelector semantics (what the cluster generator applies to cluster secrets). */
export function matches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    switch (operator) {
      case "In":
        if (!has || !values.includes(String(labels[key]))) return false;
        break;
      case "NotIn":
        if (has && values.includes(String(labels[key]))) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        throw new Error(`unknown label selector operator ${operator}`);
    }
  }
  return true;
}

export const waveOf = (o: Obj): number =>
  Number(o.metadata?.annotations?.["argocd.argoproj.io/sync-wave"] ?? 0);
const list = (v: unknown): string[] =>
  typeof v === "string"
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

/** One Application on one cluster, as the root app-of-apps creates or generates it. */
export interface Delivery {
  /** The object in apps/platform/ it comes from (Application or ApplicationSet name). */
  component: string;
  cluster: string;
  wave: number;
  // biome-ignore lint/suspicious/noExplicitAny: an Argo CD source, read as Argo CD does
  source: Record<string, any>;
  /** CRD kinds (group/Kind) it installs: annotation wms.example/crds. */
  crds: string[];
  /** CR kinds its objects use, from its repo folder plus annotation wms.example/uses. */
  uses: string[];
  file: string;
}

/** The objects a source from this repository applies (folder, non-recursive unless told). */
export function sourceObjects(root: string, source: Record<string, unknown>): Obj[] {
  if (source.repoURL !== REPO_URL || typeof source.path !== "string") return [];
  const dir = join(root, source.path);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`source path ${source.path} is not a folder`);
  const directory = (source.directory ?? {}) as { recurse?: boolean; include?: string };
  let files = yamlFilesIn(dir, directory.recurse === true).filter(
    (f) => basename(f) !== "kustomization.yaml" && !f.includes("/tests/"),
  );
  if (directory.include === "*/policy.yaml") files = files.filter((f) => basename(f) === "policy.yaml");
  return readDocs(files, root).map((d) => d.object);
}

function delivery(root: string, d: Doc, cluster: string, source: Record<string, unknown>): Delivery {
  const annotations = d.object.metadata.annotations ?? {};
  const fromFolder = sourceObjects(root, source).filter(isCustomResource).map(groupKind);
  return {
    component: d.object.metadata.name,
    cluster,
    wave: waveOf(d.object),
    source,
    crds: list(annotations["wms.example/crds"]),
    uses: [...new Set([...fromFolder, ...list(annotations["wms.example/uses"])])].sort(),
    file: d.file,
  };
}

/**
 * Every Application the objects in apps/platform/ make, per cluster: plain Applications where
 * they point, cluster-generator ApplicationSets once per matching cluster secret. The
 * ApplicationSet over the rendered folders (git generator) is left to renderedDeliveries.
 */
export function platformDeliveries(root: string, docs: Doc[], clusters: Cluster[]): Delivery[] {
  const out: Delivery[] = [];
  for (const d of docs.filter((x) => x.file.startsWith("apps/platform/"))) {
    const o = d.object;
    if (o.kind === "Application") out.push(delivery(root, d, o.spec.destination.name, o.spec.source));
    if (o.kind !== "ApplicationSet") continue;
    for (const g of o.spec.generators ?? []) {
      if (!g.clusters) continue;
      for (const c of clusters.filter((x) => matches(g.clusters.selector, x.labels)))
        out.push(delivery(root, d, c.name, o.spec.template.spec.source));
    }
  }
  return out;
}

/** environments/<env>/rendered/<folder>/, each an Application of the git-generator ApplicationSet. */
export function renderedDeliveries(root: string, docs: Doc[]): Delivery[] {
  const set = docs.find(
    (d) => d.object.kind === "ApplicationSet" && d.object.spec.generators?.some((g: Obj) => g.git),
  );
  if (!set) throw new Error("no ApplicationSet with a git generator in apps/platform/");
  const out: Delivery[] = [];
  const envs = join(root, "environments");
  for (const env of readdirSync(envs)) {
    const rendered = join(envs, env, "rendered");
    if (!existsSync(rendered)) continue;
    for (const folder of readdirSync(rendered)) {
      const app = JSON.parse(readFileSync(join(rendered, folder, "app.json"), "utf8")) as { cluster: string };
      const path = relative(root, join(rendered, folder));
      const objects = sourceObjects(root, { repoURL: REPO_URL, path });
      out.push({
        component: `${set.object.metadata.name}:${path}`,
        cluster: app.cluster,
        wave: waveOf(set.object),
        source: { repoURL: REPO_URL, path },
        crds: [],
        uses: [...new Set(objects.filter(isCustomResource).map(groupKind))].sort(),
        file: path,
      });
    }
  }
  return out;
}

export interface Environment {
  name: string;
  cluster: string;
  hostname: string;
  region: string;
  file: string;
}

export function environments(root: string): Environment[] {
  const dir = join(root, "environments");
  return readdirSync(dir)
    .filter((e) => existsSync(join(dir, e, "environment.yaml")))
    .sort()
    .map((e) => {
      const file = join(dir, e, "environment.yaml");
      const doc = parse(readFileSync(file, "utf8")) as Obj;
      return {
        name: doc.name,
        cluster: doc.destination.cluster,
        hostname: doc.gateway.hostname,
        region: doc.modelStore.region,
        file: relative(root, file),
      };
    });
}

/**
 * For each CR kind a delivery uses, the deliveries to the same cluster that install its CRD in
 * an earlier wave (or the delivery itself). Returns one message per kind that has none.
 */
export function crdOrderProblems(deliveries: Delivery[]): string[] {
  const problems: string[] = [];
  for (const d of deliveries) {
    for (const kind of d.uses) {
      const providers = deliveries.filter((p) => p.cluster === d.cluster && p.crds.includes(kind));
      if (providers.length === 0) {
        problems.push(
          `${d.component} on ${d.cluster} (${d.file}) uses ${kind}, whose CRD nothing delivers there`,
        );
      } else if (!providers.some((p) => p.wave < d.wave || p === d)) {
        // p === d: an app that installs a CRD and uses it (Argo CD applies CRDs first in a sync)
        const where = providers.map((p) => `${p.component} (wave ${p.wave})`).join(", ");
        problems.push(
          `${d.component} on ${d.cluster} (wave ${d.wave}) uses ${kind}, whose CRD comes in no earlier wave: ${where}`,
        );
      }
    }
  }
  return problems;
}

/**
 * The cluster-secret fields a generator template reads (`.name`, `index .metadata.labels "x"`,
 * `index .metadata.annotations "x"`). With goTemplateOptions missingkey=error an absent key
 * stops the ApplicationSet, so each must exist on every cluster the set selects.
 */
export function templateKeys(template: unknown): { labels: string[]; annotations: string[] } {
  const text = JSON.stringify(template);
  const keys = (kind: string) =>
    [...text.matchAll(new RegExp(`index \\.metadata\\.${kind} \\\\"([^\\\\]+)\\\\"`, "g"))].map(
      (m) => m[1] ?? "",
    );
  return {
    labels: [...new Set(keys("labels"))].sort(),
    annotations: [...new Set(keys("annotations"))].sort(),
  };
}

/** Problems with one cluster generator's template on the clusters it selects. */
export function templateProblems(docs: Doc[], clusters: Cluster[]): string[] {
  const problems: string[] = [];
  for (const d of docs.filter((x) => x.object.kind === "ApplicationSet")) {
    for (const g of d.object.spec.generators ?? []) {
      if (!g.clusters) continue;
      const { labels, annotations } = templateKeys(d.object.spec.template);
      for (const c of clusters.filter((x) => matches(g.clusters.selector, x.labels))) {
        for (const k of labels.filter((l) => !(l in c.labels)))
          problems.push(
            `${d.object.metadata.name} reads label ${k}, which cluster ${c.name} (${c.file}) lacks`,
          );
        for (const k of annotations.filter((a) => !(a in c.annotations)))
          problems.push(
            `${d.object.metadata.name} reads annotation ${k}, which cluster ${c.name} (${c.file}) lacks`,
          );
      }
    }
  }
  return problems;
}

/** RFC 6901 pointer lookup; undefined when the path does not resolve. */
function resolve(obj: unknown, pointer: string): unknown {
  let at: unknown = obj;
  for (const raw of pointer.split("/").slice(1)) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (at === null || typeof at !== "object" || !(part in (at as object))) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/**
 * The inline kustomize patches of Argo CD sources (spec.source.kustomize.patches), checked
 * against the objects of the source folder: each target exists once and each `replace` path is
 * there to replace (kustomize fails the whole render otherwise).
 */
export function kustomizePatchProblems(root: string, docs: Doc[]): string[] {
  const problems: string[] = [];
  for (const d of docs.filter((x) => x.object.kind === "ApplicationSet" || x.object.kind === "Application")) {
    const source =
      d.object.kind === "Application" ? d.object.spec.source : d.object.spec.template?.spec?.source;
    for (const p of source?.kustomize?.patches ?? []) {
      const t = p.target ?? {};
      const targets = sourceObjects(root, source).filter(
        (o) =>
          o.kind === t.kind &&
          o.metadata.name === t.name &&
          (t.group === undefined || groupOf(o.apiVersion) === t.group),
      );
      const who = `${d.object.metadata.name}: patch of ${t.group ?? ""}/${t.kind}/${t.name}`;
      if (targets.length !== 1) {
        problems.push(`${who} matches ${targets.length} objects in ${source.path}`);
        continue;
      }
      for (const op of parse(p.patch) as { op: string; path: string }[]) {
        if (op.op === "replace" && resolve(targets[0], op.path) === undefined)
          problems.push(`${who}: ${op.path} does not exist`);
      }
    }
  }
  return problems;
}

/**
 * The Application a cluster-generator ApplicationSet makes for one cluster. Our templates use
 * three Go-template forms only — `{{.name}}`, `{{index .metadata.labels "k"}}`,
 * `{{index .metadata.annotations "k"}}` — which are plain lookups; anything else throws, so
 * this stays a lookup and never becomes a template engine of our own.
 */
export function generatedApplication(set: Obj, cluster: Cluster): Obj {
  const text = JSON.stringify(set.spec.template).replace(/\{\{(.*?)\}\}/g, (_, expr: string) => {
    const e = expr.trim().replace(/\\"/g, '"');
    if (e === ".name") return cluster.name;
    const m = /^index \.metadata\.(labels|annotations) "([^"]+)"$/.exec(e);
    if (!m) throw new Error(`${set.metadata.name}: template expression {{${expr}}} is not a plain lookup`);
    const value = (m[1] === "labels" ? cluster.labels : cluster.annotations)[m[2] as string];
    if (value === undefined)
      throw new Error(`${set.metadata.name}: cluster ${cluster.name} has no ${m[1]} ${m[2]}`);
    return JSON.stringify(value).slice(1, -1);
  });
  const template = JSON.parse(text) as { metadata: Record<string, unknown>; spec: unknown };
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    ...template,
    metadata: { namespace: set.metadata.namespace, ...template.metadata },
  } as Obj;
}

/** Every Application the cluster-generator ApplicationSets make, for every cluster they select. */
export function generatedApplications(docs: Doc[], clusters: Cluster[]): Doc[] {
  const out: Doc[] = [];
  for (const d of docs.filter((x) => x.object.kind === "ApplicationSet")) {
    for (const g of d.object.spec.generators ?? []) {
      if (!g.clusters) continue;
      for (const c of clusters.filter((x) => matches(g.clusters.selector, x.labels)))
        out.push({ file: `${d.file} (for ${c.name})`, index: 0, object: generatedApplication(d.object, c) });
    }
  }
  return out;
}
