/**
 * Every cluster an environment names gets its platform, in order (issue 8, item 5): the
 * ApplicationSets' cluster-generator selectors are evaluated against the cluster secrets in
 * apps/argocd/clusters/, as Argo CD's ApplicationSet controller does, and every custom-resource
 * kind a rendered folder or a platform app uses must have its CRD delivered to the same cluster
 * in an earlier sync wave. Each rule is also run on a broken copy, to show it fails.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { validateObjects } from "../generator/src/validate/index.ts";
import { REPO_ROOT } from "./support/cli.ts";
import {
  appsDocs,
  type Cluster,
  clusterSecrets,
  crdOrderProblems,
  type Delivery,
  type Doc,
  environments,
  generatedApplications,
  kustomizePatchProblems,
  matches,
  platformDeliveries,
  renderedDeliveries,
  templateKeys,
  templateProblems,
} from "./support/platform.ts";

/** What every cluster needs (issue 8, item 5), by the name of the object in apps/platform/. */
const EVERY_CLUSTER = [
  "gateway-api-crds",
  "envoy-gateway-crds",
  "envoy-gateway",
  "wms-gateway",
  "kube-prometheus-stack",
  "wms-monitoring",
  "wms-policies",
  "metrics-server",
  "external-secrets",
  "secret-store",
  "cert-manager",
  "aws-load-balancer-controller",
  "karpenter",
  "karpenter-nodes",
];
/** Only on the hub, where Argo CD runs. */
const HUB_ONLY = ["argocd", "mlflow-db-secret", "mlflow"];

const docs = appsDocs(REPO_ROOT);
const envs = environments(REPO_ROOT);
const clusters = clusterSecrets(docs);
const all = (d: Doc[], c: Cluster[] = clusterSecrets(d)): Delivery[] => [
  ...platformDeliveries(REPO_ROOT, d, c),
  ...renderedDeliveries(REPO_ROOT, d),
];
const clone = (): Doc[] => structuredClone(docs);
const named = (d: Doc[], name: string) => {
  const found = d.find((x) => x.file.startsWith("apps/platform/") && x.object.metadata.name === name);
  if (!found) throw new Error(`apps/platform/ has no ${name}`);
  return found.object;
};

function missingComponents(deliveries: Delivery[]): string[] {
  const hub = clusters.find((c) => c.labels.hub === "true")?.name;
  const out: string[] = [];
  for (const env of envs) {
    const wanted = [...EVERY_CLUSTER, ...(env.cluster === hub ? HUB_ONLY : [])];
    for (const component of wanted) {
      const n = deliveries.filter((d) => d.cluster === env.cluster && d.component === component).length;
      if (n !== 1)
        out.push(`${component} is delivered ${n} times to ${env.cluster} (environment ${env.name})`);
    }
  }
  return out;
}

describe("label selectors, as the cluster generator evaluates them", () => {
  it("matchLabels and every matchExpressions operator", () => {
    const labels = { environment: "prod", hub: "true" };
    expect(matches(undefined, labels)).toBe(true);
    expect(matches({ matchLabels: { hub: "true" } }, labels)).toBe(true);
    expect(matches({ matchLabels: { hub: "false" } }, labels)).toBe(false);
    expect(matches({ matchExpressions: [{ key: "environment", operator: "Exists" }] }, labels)).toBe(true);
    expect(matches({ matchExpressions: [{ key: "region", operator: "Exists" }] }, labels)).toBe(false);
    expect(matches({ matchExpressions: [{ key: "region", operator: "DoesNotExist" }] }, labels)).toBe(true);
    const inProd = { key: "environment", operator: "In", values: ["prod"] };
    expect(matches({ matchExpressions: [inProd] }, labels)).toBe(true);
    expect(matches({ matchExpressions: [{ ...inProd, values: ["dev"] }] }, labels)).toBe(false);
    expect(matches({ matchExpressions: [{ ...inProd, operator: "NotIn" }] }, labels)).toBe(false);
    expect(() => matches({ matchExpressions: [{ key: "x", operator: "Gt" }] }, labels)).toThrow(
      /operator Gt/,
    );
  });
});

describe("clusters", () => {
  it("every cluster an environment names has a cluster secret that agrees with the environment", () => {
    expect(envs.map((e) => e.name)).toEqual(["dev", "prod", "staging"]);
    for (const env of envs) {
      const c = clusters.filter((x) => x.name === env.cluster);
      expect(c, `${env.file}: destination.cluster ${env.cluster} has no cluster secret`).toHaveLength(1);
      const [cluster] = c as [Cluster];
      expect(cluster.labels.environment, cluster.file).toBe(env.name);
      expect(cluster.annotations.gateway_hostname, cluster.file).toBe(env.hostname);
      expect(cluster.annotations.aws_region, cluster.file).toBe(env.region);
    }
  });

  it("exactly one hub, in-cluster; spokes authenticate with awsAuthConfig for their own EKS cluster", () => {
    const hubs = clusters.filter((c) => c.labels.hub === "true");
    expect(hubs.map((c) => c.name)).toEqual(["in-cluster"]);
    expect(hubs[0]?.server).toBe("https://kubernetes.default.svc");
    for (const c of clusters.filter((x) => x.labels.hub !== "true")) {
      const auth = c.config.awsAuthConfig as { clusterName?: string; roleARN?: string } | undefined;
      expect(auth?.clusterName, c.file).toBe(c.name);
      expect(c.annotations.aws_cluster_name, c.file).toBe(c.name);
      // No roleARN: argocd-k8s-auth signs with the pod's own IRSA role, which the spoke admits.
      expect(auth?.roleARN, c.file).toBeUndefined();
      expect(c.config).not.toHaveProperty("bearerToken");
    }
  });

  it("Argo CD's three cluster-facing service accounts carry the hub's <cluster>-argocd IRSA role", () => {
    const hub = clusters.find((c) => c.labels.hub === "true") as Cluster;
    const role = `arn:aws:iam::${hub.annotations.aws_account_id}:role/${hub.annotations.aws_cluster_name}-argocd`;
    const sas = docs.filter((d) => d.file === "apps/argocd/irsa.yaml").map((d) => d.object);
    expect(sas.map((s) => s.metadata.name).sort()).toEqual([
      "argocd-application-controller",
      "argocd-applicationset-controller",
      "argocd-server",
    ]);
    for (const sa of sas) expect(sa.metadata.annotations["eks.amazonaws.com/role-arn"]).toBe(role);
    const kustomization = parse(readFileSync(join(REPO_ROOT, "apps/argocd/kustomization.yaml"), "utf8"));
    expect(kustomization.patches).toContainEqual({ path: "irsa.yaml" });
  });
});

describe("every cluster gets its platform", () => {
  it("each platform component is delivered once to every cluster an environment names (the hub gets Argo CD and MLflow)", () => {
    expect(missingComponents(all(docs))).toEqual([]);
  });

  it("fails when a cluster secret loses the label the selectors match on", () => {
    const broken = clone();
    const secret = broken.find((d) => d.file === "apps/argocd/clusters/wms-prod.yaml")?.object;
    delete secret?.metadata.labels.environment;
    expect(missingComponents(all(broken))).toContain(
      "cert-manager is delivered 0 times to wms-prod (environment prod)",
    );
  });

  it("fails when an ApplicationSet's selector stops matching a cluster", () => {
    const broken = clone();
    named(broken, "karpenter").spec.generators[0].clusters.selector = {
      matchExpressions: [{ key: "environment", operator: "In", values: ["dev", "staging"] }],
    };
    expect(missingComponents(all(broken))).toEqual([
      "karpenter is delivered 0 times to wms-prod (environment prod)",
    ]);
  });

  it("the bootstrap works from an empty cluster: root's project ships with Argo CD's install", () => {
    const root = parse(readFileSync(join(REPO_ROOT, "apps/root.yaml"), "utf8"));
    const kustomization = parse(readFileSync(join(REPO_ROOT, "apps/argocd/kustomization.yaml"), "utf8"));
    const installed = (kustomization.resources as string[])
      .filter((r) => !r.startsWith("https://"))
      .flatMap((r) => docs.filter((d) => d.file === `apps/argocd/${r}`).map((d) => d.object));
    const projects = installed.filter((o) => o.kind === "AppProject").map((o) => o.metadata.name);
    expect(projects).toContain(root.spec.project);
    // and nothing else claims that project (two Applications owning one object fight over it)
    expect(
      docs.filter((d) => d.object.kind === "AppProject" && d.object.metadata.name === root.spec.project),
    ).toHaveLength(1);
    // every cluster secret and the IRSA patch come with the install too
    for (const c of clusters) expect(kustomization.resources).toContain(c.file.replace("apps/argocd/", ""));
    // the platform project may deploy to every cluster that gets the platform
    const platform = installed.find((o) => o.kind === "AppProject" && o.metadata.name === "platform");
    const destinations = ((platform?.spec.destinations ?? []) as { name: string }[]).map((d) => d.name);
    for (const env of envs) expect(destinations).toContain(env.cluster);
  });
});

describe("CRDs precede the custom resources that need them", () => {
  it("every CR kind a rendered folder or a platform app uses has its CRD delivered to that cluster in an earlier wave", () => {
    const deliveries = all(docs);
    // the check has something to check: the rendered routes and monitors, the gateway, Karpenter
    const used = new Set(deliveries.flatMap((d) => d.uses));
    for (const kind of [
      "gateway.networking.k8s.io/HTTPRoute",
      "gateway.networking.k8s.io/ReferenceGrant",
      "monitoring.coreos.com/ServiceMonitor",
      "gateway.networking.k8s.io/Gateway",
      "cert-manager.io/Certificate",
      "external-secrets.io/ClusterSecretStore",
      "external-secrets.io/ExternalSecret",
      "karpenter.sh/NodePool",
      "karpenter.k8s.aws/EC2NodeClass",
      "gateway.envoyproxy.io/EnvoyProxy",
    ])
      expect(used).toContain(kind);
    expect(crdOrderProblems(deliveries)).toEqual([]);
  });

  it("fails when the CRDs come in the same wave as their users", () => {
    const broken = clone();
    named(broken, "gateway-api-crds").metadata.annotations["argocd.argoproj.io/sync-wave"] = "10";
    const problems = crdOrderProblems(all(broken));
    expect(problems).toContain(
      "wms-models:environments/staging/rendered/wms-routing on wms-staging (wave 10) uses gateway.networking.k8s.io/HTTPRoute, whose CRD comes in no earlier wave: gateway-api-crds (wave 10)",
    );
    expect(
      problems.some((p) =>
        p.startsWith("wms-gateway on wms-prod (wave 0) uses gateway.networking.k8s.io/Gateway"),
      ),
    ).toBe(true);
  });

  it("fails when a cluster gets a kind whose CRD is not delivered there", () => {
    const broken = clone();
    named(broken, "cert-manager").spec.generators[0].clusters.selector = { matchLabels: { hub: "true" } };
    expect(crdOrderProblems(all(broken))).toContain(
      "wms-gateway on wms-staging (apps/platform/envoy-gateway.yaml) uses cert-manager.io/Certificate, whose CRD nothing delivers there",
    );
  });
});

describe("waves inside the gateway app", () => {
  it("issuer, then certificate, then the Gateway that terminates TLS with it", () => {
    const gateway = docs.filter((d) => d.file.startsWith("apps/gateway/")).map((d) => d.object);
    const wave = (kind: string) =>
      Number(
        gateway.find((o) => o.kind === kind)?.metadata.annotations?.["argocd.argoproj.io/sync-wave"] ?? 0,
      );
    expect(wave("ClusterIssuer")).toBeLessThan(wave("Certificate"));
    expect(wave("Certificate")).toBeLessThan(wave("Gateway"));
    expect(wave("EnvoyProxy")).toBeLessThan(wave("GatewayClass"));
    const cert = gateway.find((o) => o.kind === "Certificate");
    const gw = gateway.find((o) => o.kind === "Gateway");
    expect(gw?.spec.listeners[0].tls.certificateRefs[0].name).toBe(cert?.spec.secretName);
    expect(cert?.metadata.namespace).toBe(gw?.metadata.namespace);
  });
});

describe("what the ApplicationSet templates read", () => {
  it("every label and annotation a template reads exists on every cluster it selects", () => {
    expect(templateKeys(named(docs, "karpenter").spec.template).annotations).toEqual([
      "aws_account_id",
      "aws_cluster_name",
    ]);
    expect(templateProblems(docs, clusters)).toEqual([]);
  });

  it("fails when a selected cluster lacks an annotation the template reads", () => {
    const broken = clone();
    delete broken.find((d) => d.file === "apps/argocd/clusters/wms-staging.yaml")?.object.metadata.annotations
      .gateway_hostname;
    expect(templateProblems(broken, clusterSecrets(broken))).toEqual([
      "wms-gateway reads annotation gateway_hostname, which cluster wms-staging (apps/argocd/clusters/wms-staging.yaml) lacks",
    ]);
  });

  it("every inline kustomize patch finds its object and the field it replaces", () => {
    expect(kustomizePatchProblems(REPO_ROOT, docs)).toEqual([]);
    const broken = clone();
    const patch = named(broken, "wms-gateway").spec.template.spec.source.kustomize.patches[0];
    patch.patch = patch.patch.replace("/spec/listeners/0/hostname", "/spec/listeners/1/hostname");
    expect(kustomizePatchProblems(REPO_ROOT, broken)).toEqual([
      "wms-gateway: patch of gateway.networking.k8s.io/Gateway/wms: /spec/listeners/1/hostname does not exist",
    ]);
  });
});

describe("root's waves", () => {
  const platform = docs.filter((d) => d.file.startsWith("apps/platform/")).map((d) => d.object);

  it("every object root syncs has an explicit wave; the model versions come last", () => {
    for (const o of platform)
      expect(
        o.metadata.annotations?.["argocd.argoproj.io/sync-wave"],
        `${o.kind}/${o.metadata.name}`,
      ).toMatch(/^-?\d+$/);
    const last = Math.max(
      ...platform.map((o) => Number(o.metadata.annotations["argocd.argoproj.io/sync-wave"])),
    );
    // the model and version ApplicationSets (apps/platform/wms-environments.yaml), and only they
    expect(
      platform
        .filter((o) => Number(o.metadata.annotations["argocd.argoproj.io/sync-wave"]) === last)
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["wms-environments", "wms-environments-prod", "wms-models"]);
  });

  it("every ApplicationSet stops on a missing template key instead of rendering an empty value", () => {
    for (const o of platform.filter((x) => x.kind === "ApplicationSet")) {
      expect(o.spec.goTemplate, o.metadata.name).toBe(true);
      expect(o.spec.goTemplateOptions, o.metadata.name).toEqual(["missingkey=error"]);
    }
  });
});

describe("the Applications the ApplicationSets generate", () => {
  const generated = generatedApplications(docs, clusters);

  it("pass Argo CD's Application schema strictly, with unique names, on the cluster they were made for", () => {
    expect(generated.length).toBeGreaterThanOrEqual(EVERY_CLUSTER.length * envs.length);
    expect(validateObjects(generated)).toEqual([]);
    const names = [...docs.filter((d) => d.object.kind === "Application"), ...generated].map(
      (d) => d.object.metadata.name,
    );
    expect(names.length - new Set(names).size, "two Applications of one name fight over it").toBe(0);
    for (const { file, object } of generated) {
      expect(object.metadata.name, file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(file).toContain(`(for ${object.spec.destination.name})`);
    }
    const prodGateway = generated.find((d) => d.object.metadata.name === "prod-wms-gateway")?.object;
    expect(prodGateway?.spec.source.kustomize.patches[0].patch).toContain("value: 'wms.example.com'");
  });

  it("fail when a template uses something other than a plain lookup", () => {
    const broken = clone();
    named(broken, "metrics-server").spec.template.metadata.name = "{{.name | upper}}-metrics-server";
    expect(() => generatedApplications(broken, clusterSecrets(broken))).toThrow(
      /metrics-server: template expression \{\{\.name \| upper\}\} is not a plain lookup/,
    );
  });

  it("fail the schema when a generated Application is broken", () => {
    const broken = clone();
    named(broken, "metrics-server").spec.template.spec.destination.cluster = "{{.name}}";
    const problems = validateObjects(generatedApplications(broken, clusterSecrets(broken)));
    expect(problems.map((p) => p.message)).toContain('unknown field "cluster"');
  });
});

describe("the platform project admits what its Applications use", () => {
  const project = (d: Doc[]) =>
    d.find((x) => x.object.kind === "AppProject" && x.object.metadata.name === "platform")?.object;
  function unadmitted(d: Doc[]): string[] {
    const p = project(d);
    const repos = new Set<string>(p?.spec.sourceRepos ?? []);
    const apps = [
      ...d.filter((x) => x.object.kind === "Application").map((x) => x.object),
      ...generatedApplications(d, clusterSecrets(d)).map((x) => x.object),
    ].filter((a) => a.spec.project === "platform");
    return apps
      .filter((a) => !repos.has(a.spec.source.repoURL))
      .map((a) => `${a.metadata.name}: ${a.spec.source.repoURL}`);
  }

  it("every repository a platform Application pulls from is in the project's sourceRepos", () => {
    expect(unadmitted(docs)).toEqual([]);
  });

  it("fails when a chart repository is missing from sourceRepos", () => {
    const broken = clone();
    const p = project(broken);
    if (!p) throw new Error("no platform AppProject");
    p.spec.sourceRepos = p.spec.sourceRepos.filter((r: string) => r !== "https://charts.jetstack.io");
    expect(unadmitted(broken)).toEqual([
      "dev-cert-manager: https://charts.jetstack.io",
      "prod-cert-manager: https://charts.jetstack.io",
      "staging-cert-manager: https://charts.jetstack.io",
    ]);
  });
});
