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
    expect(set?.spec.generators[0].git.files[0].path).toBe("environments/*/rendered/*/app.json");
    const t = set?.spec.template;
    expect(Object.keys(t.metadata.labels)).toEqual(
      expect.arrayContaining(["wms.example/environment", "wms.example/model", "wms.example/version"]),
    );
    expect(t.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(t.metadata.finalizers).toContain("resources-finalizer.argocd.argoproj.io");
    expect(t.spec.source.directory.exclude).toBe("app.json");
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
      expect(p.spec.clusterResourceWhitelist).toEqual([{ group: "", kind: "Namespace" }]);
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
