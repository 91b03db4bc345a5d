/**
 * apps/ (Argo CD wiring and platform apps) checked against the upstream Argo CD, Gateway API
 * and Kubernetes schemas, strictly, plus the GitOps rules the issue fixes: automated sync with
 * prune and self-heal, allowEmpty off, model projects without cluster-wide kinds but Namespace.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { validateObjects } from "../generator/src/validate/index.ts";
import { DEFAULTS as SERVER_DEFAULTS } from "../model/server/src/server.ts";
import { REPO_ROOT } from "./support/cli.ts";
import { appsDocs } from "./support/platform.ts";

// kustomize config and promtool test files are not Kubernetes objects (and Argo CD's
// non-recursive directory sources never apply the tests/ folders)
const docs = appsDocs(REPO_ROOT);

describe("apps/", () => {
  it("every object passes the upstream schemas strictly", () => {
    expect(docs.length).toBeGreaterThan(8);
    expect(validateObjects(docs)).toEqual([]);
  });

  it("the ApplicationSet makes one Application per rendered folder, labelled, pruning, self-healing, never allowEmpty", () => {
    const set = docs.find(
      (d) => d.object.kind === "ApplicationSet" && d.object.metadata.name === "wms-environments",
    )?.object;
    expect(set?.spec.generators[0].git.files[0].path).toBe("environments/dev/rendered/*/app.json");
    const t = set?.spec.template;
    expect(Object.keys(t.metadata.labels)).toEqual(
      expect.arrayContaining(["wms.example/environment", "wms.example/model", "wms.example/version"]),
    );
    expect(t.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(t.spec.source.directory.exclude).toBe("app.json");
  });

  it("deleting a generated Application (a removed folder, a whole environment, a version analyze dropped) deletes nothing it deployed", () => {
    // The finalizers the ApplicationSet controller puts on a generated Application
    // (RenderTemplateParams, applicationset/utils/utils.go, Argo CD v3.5.7): the template's own,
    // else resources-finalizer unless spec.syncPolicy.preserveResourcesOnDeletion. An explicit
    // resources-finalizer in the template cascades whatever preserveResourcesOnDeletion says.
    const finalizersOf = (set: (typeof docs)[number]["object"]): string[] =>
      set.spec.template.metadata.finalizers?.length
        ? set.spec.template.metadata.finalizers
        : set.spec.syncPolicy?.preserveResourcesOnDeletion
          ? []
          : ["resources-finalizer.argocd.argoproj.io"];
    const sets = docs.filter(
      (d) => d.object.kind === "ApplicationSet" && d.file.endsWith("apps/platform/wms-environments.yaml"),
    );
    expect(sets.map((s) => s.object.metadata.name).sort()).toEqual([
      "wms-environments",
      "wms-environments-prod",
      "wms-models",
    ]);
    for (const { object: set } of sets) {
      expect(finalizersOf(set), set.metadata.name).toEqual([]);
      // the model app prunes a dropped version's Namespace (and its Service) after the route moved
      expect(set.spec.template.spec.syncPolicy.syncOptions, set.metadata.name).toContain("PruneLast=true");
    }
  });

  it("prod retires a version without leaving its Application in error: the controller may delete version Applications", () => {
    for (const name of ["wms-environments", "wms-environments-prod"]) {
      const set = byName("ApplicationSet", name);
      // create-update would keep a removed version's Application, its path gone, in error
      // (ApplicationsSyncPolicy.AllowDelete, Argo CD v3.5.7); deleting it cascades nowhere
      expect(set.spec.syncPolicy.applicationsSync ?? "sync", name).not.toBe("create-update");
      expect(set.spec.syncPolicy.preserveResourcesOnDeletion, name).toBe(true);
    }
  });

  it("a failed sync is retried later, not given up after a few tries on one revision", () => {
    const sets = docs.filter(
      (d) => d.object.kind === "ApplicationSet" && d.file.endsWith("apps/platform/wms-environments.yaml"),
    );
    expect(sets).toHaveLength(3);
    for (const { object: set } of sets) {
      const retry = set.spec.template.spec.syncPolicy.retry;
      // Retry.Limit < 0: no end (processRequestedAppOperation, controller/appcontroller.go, v3.5.7)
      expect(retry.limit, set.metadata.name).toBeLessThan(0);
      expect(retry.backoff.maxDuration, set.metadata.name).toMatch(/^[1-9]\d*m$/);
    }
  });

  it("model projects allow only this repo, their namespaces, and no cluster-wide kind but Namespace", () => {
    const projects = docs.filter(
      (d) => d.object.kind === "AppProject" && d.object.metadata.name.startsWith("wms-"),
    );
    expect(projects.map((p) => p.object.metadata.name).sort()).toEqual([
      "wms-dev",
      "wms-prod",
      "wms-staging",
    ]);
    for (const { object: p } of projects) {
      const env = p.metadata.name.replace("wms-", "");
      expect(p.spec.sourceRepos).toHaveLength(1);
      expect(p.spec.destinations.map((d: { namespace: string }) => d.namespace)).toEqual([`${env}-wms-*`]);
      // by name: a whitelisted kind without one admits any name (security.test.ts)
      expect(p.spec.clusterResourceWhitelist).toEqual([
        { group: "", kind: "Namespace", name: `${env}-wms-*` },
      ]);
    }
  });

  it("the validator really rejects an unknown field in an Application", () => {
    const app = docs.find((d) => d.object.kind === "Application");
    if (!app) throw new Error("no Application in apps/");
    const broken = structuredClone(app);
    broken.object.spec.syncPolicy.automated.allowEmpty2 = true;
    expect(
      validateObjects([broken])
        .map((p) => p.message)
        .join("\n"),
    ).toMatch(/allowEmpty2/);
  });
});

const byName = (kind: string, name: string) => {
  const found = docs.find((d) => d.object.kind === kind && d.object.metadata.name === name)?.object;
  if (!found) throw new Error(`apps/ has no ${kind} ${name}`);
  return found;
};

describe("the gateway is scraped (gen analyze reads Envoy's answers)", () => {
  it("a PodMonitor selects Envoy Gateway's proxies on their metrics port, and Prometheus selects it", () => {
    const pm = byName("PodMonitor", "envoy-proxies");
    // EnvoyAppLabel (internal/infrastructure/kubernetes/proxy/resource.go, Envoy Gateway v1.9.1)
    expect(pm.spec.selector.matchLabels).toEqual({
      "app.kubernetes.io/name": "envoy",
      "app.kubernetes.io/component": "proxy",
      "app.kubernetes.io/managed-by": "envoy-gateway",
    });
    expect(pm.metadata.namespace).toBe("envoy-gateway-system");
    expect(pm.spec.podMetricsEndpoints).toEqual([
      expect.objectContaining({ port: "metrics", path: "/stats/prometheus" }),
    ]);
    const kustomization = parse(readFileSync(join(REPO_ROOT, "apps/gateway/kustomization.yaml"), "utf8"));
    expect(kustomization.resources).toContain("podmonitor.yaml");
    const prom = byName("ApplicationSet", "kube-prometheus-stack").spec.template.spec.source.helm.valuesObject
      .prometheus.prometheusSpec;
    expect(prom.podMonitorSelector.matchLabels).toEqual(
      expect.objectContaining({ release: pm.metadata.labels.release }),
    );
    expect(prom.podMonitorNamespaceSelector).toEqual({});
  });
});

describe("Envoy and the model servers agree on connections (no request on a closing one)", () => {
  it("the gateway closes idle upstream connections before the server does, and retries a reset one", () => {
    const btp = byName("BackendTrafficPolicy", "wms-upstreams");
    expect(btp.spec.targetRefs).toEqual([
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: byName("Gateway", "wms").metadata.name },
    ]);
    const kustomization = parse(readFileSync(join(REPO_ROOT, "apps/gateway/kustomization.yaml"), "utf8"));
    expect(kustomization.resources).toContain("backendtrafficpolicy.yaml");
    const idleSeconds = Number(/^(\d+)s$/.exec(btp.spec.timeout.http.connectionIdleTimeout)?.[1]);
    expect(idleSeconds).toBeGreaterThan(0);
    expect(SERVER_DEFAULTS.keepAliveTimeoutMs).toBeGreaterThan(idleSeconds * 1000);
    expect(btp.spec.retry.retryOn.triggers).toEqual(expect.arrayContaining(["connect-failure", "reset"]));
    // 5xx answers reach the analysis: a broken canary is not hidden behind retries
    expect(btp.spec.retry.retryOn.triggers).not.toContain("5xx");
    expect(btp.spec.retry.retryOn.triggers).not.toContain("gateway-error");
  });
});

describe("kube-prometheus-stack on EKS", () => {
  it("does not scrape, nor alert on, the control plane EKS hides (controller-manager, scheduler, etcd, kube-proxy)", () => {
    const values = byName("ApplicationSet", "kube-prometheus-stack").spec.template.spec.source.helm
      .valuesObject;
    for (const c of ["kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"]) {
      expect(values[c]?.enabled, c).toBe(false);
    }
    for (const r of [
      "etcd",
      "kubeControllerManager",
      "kubeSchedulerAlerting",
      "kubeSchedulerRecording",
      "kubeProxy",
    ]) {
      expect(values.defaultRules?.rules?.[r], r).toBe(false);
    }
  });
});

describe("ingress survives a proxy restart or a drain", () => {
  it("at least two Envoy proxies, a budget of one at a time, and the NLB's readiness gate", () => {
    const kube = byName("EnvoyProxy", "wms-nlb").spec.provider.kubernetes;
    expect(kube.envoyHpa.minReplicas).toBeGreaterThanOrEqual(2);
    expect(kube.envoyHpa.maxReplicas).toBeGreaterThan(kube.envoyHpa.minReplicas);
    expect(kube.envoyPDB.minAvailable).toBeLessThan(kube.envoyHpa.minReplicas);
    expect(kube.envoyPDB.minAvailable).toBeGreaterThanOrEqual(1);
    const app = byName("ApplicationSet", "envoy-gateway").spec.template.spec;
    expect(app.destination.namespace).toBe("envoy-gateway-system");
    expect(app.syncPolicy.syncOptions).toContain("CreateNamespace=true");
    // with its Pod Security level (policies/pss-required; security.test.ts checks both apps agree)
    expect(app.syncPolicy.managedNamespaceMetadata.labels).toEqual({
      "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
      "pod-security.kubernetes.io/enforce": "baseline",
    });
  });
});

describe("MLflow's database secret comes from External Secrets", () => {
  it("the chart reads Secret mlflow-db through backendStore.existingDatabaseSecret, which the ExternalSecret writes", () => {
    const values = byName("Application", "mlflow").spec.source.helm.valuesObject;
    // not a key of the chart (values.schema.json: backendStore has additionalProperties false)
    expect(JSON.stringify(values)).not.toContain("existingDbConnectionSecret");
    const external = byName("ExternalSecret", "mlflow-db");
    expect(values.backendStore.existingDatabaseSecret).toEqual({
      name: external.spec.target.name,
      usernameKey: "username", // the keys of an RDS-managed master user secret
      passwordKey: "password",
    });
    expect(external.metadata.namespace).toBe(byName("Application", "mlflow").spec.destination.namespace);
    const store = byName("ClusterSecretStore", external.spec.secretStoreRef.name);
    expect(external.spec.secretStoreRef.kind).toBe(store.kind);
    expect(store.spec.provider.aws.service).toBe("SecretsManager");
  });
});

describe("docs/versions.md", () => {
  const section = (() => {
    const text = readFileSync(join(REPO_ROOT, "docs/versions.md"), "utf8");
    const start = text.indexOf("## Cluster platform");
    const next = text.indexOf("\n## ", start + 1);
    return text.slice(start, next === -1 ? undefined : next);
  })();
  const rows = section
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| component") && !l.startsWith("| ---"));

  /** Every pin in apps/: chart sources, the Argo CD install tag, the Gateway API release. */
  function pins(): string[] {
    const out = new Set<string>();
    for (const { object: o } of docs) {
      const source = o.kind === "Application" ? o.spec.source : o.spec?.template?.spec?.source;
      if (source?.chart) out.add(`${source.chart} ${source.targetRevision}`);
    }
    for (const f of ["apps/argocd/kustomization.yaml", "apps/gateway-api/kustomization.yaml"]) {
      const k = parse(readFileSync(join(REPO_ROOT, f), "utf8")) as { resources: string[] };
      for (const r of k.resources.filter((x) => x.startsWith("https://"))) {
        const m = /github\.com\/([^/]+\/[^/]+)\/(?:releases\/download\/)?(v[\d.]+)\//.exec(
          r.replace("raw.githubusercontent.com", "github.com"),
        );
        if (!m) throw new Error(`${f}: ${r} is not pinned to a release tag`);
        out.add(`${m[1]} ${m[2]}`);
      }
    }
    return [...out].sort();
  }

  /** The pins without a row that names the version, a support end and a source URL. */
  function missingRows(pinned: string[]): string[] {
    return pinned.filter((pin) => {
      const version = pin.split(" ")[1] as string;
      const row = rows.find((r) => (r.split("|")[2] ?? "").includes(version));
      const cells = (row ?? "").split("|").map((c) => c.trim());
      return !row || cells[4] === "" || !/https:\/\//.test(cells[5] ?? "");
    });
  }

  it("has a row, with a source URL and a support end, for every version apps/ pins", () => {
    const found = pins();
    expect(found).toContain("argoproj/argo-cd v3.5.9");
    expect(found).toContain("kubernetes-sigs/gateway-api v1.6.1");
    expect(found).toContain("kube-prometheus-stack 91.5.0");
    expect(found).toHaveLength(11);
    expect(missingRows(found)).toEqual([]);
  });

  it("the check fails when a pin moves without its row", () => {
    expect(missingRows([...pins(), "kube-prometheus-stack 91.6.0"])).toEqual([
      "kube-prometheus-stack 91.6.0",
    ]);
  });
});
