/**
 * Admission policies, each beside good and bad examples: every example gets the verdict its
 * first line states (`# expect: admitted` or `# expect: <deny message>`), evaluated with the
 * policies' own CEL; and every object rendered for every environment is admitted.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { admissionProblems, admit, loadPolicies } from "../generator/src/admission.ts";
import { renderAll } from "../generator/src/pipeline.ts";
import { validateObjects } from "../generator/src/validate/index.ts";
import { REPO_ROOT } from "./support/cli.ts";
import { appsDocs } from "./support/platform.ts";

const policies = loadPolicies(REPO_ROOT);
const WMS_NS = { "app.kubernetes.io/part-of": "wms" };

describe("admission policies", () => {
  it("load, and pass the upstream schemas", () => {
    expect(policies.map((p) => p.name)).toEqual([
      "wms-image-digest",
      "wms-model-pinned",
      "wms-namespace-pss",
      "wms-pss-required",
      "wms-restricted-pods",
      "wms-route-weights",
    ]);
    const docs = readdirSync(join(REPO_ROOT, "policies")).flatMap((d) =>
      readFileSync(join(REPO_ROOT, "policies", d, "policy.yaml"), "utf8")
        .split(/^---$/m)
        .map((text, index) => ({ file: `policies/${d}/policy.yaml`, index, object: parse(text) })),
    );
    expect(docs).toHaveLength(12);
    expect(validateObjects(docs)).toEqual([]);
  });

  for (const dir of readdirSync(join(REPO_ROOT, "policies")).sort()) {
    for (const verdict of ["good", "bad"]) {
      const folder = join(REPO_ROOT, "policies", dir, verdict);
      for (const f of readdirSync(folder).sort()) {
        it(`${dir}/${verdict}/${f}`, () => {
          const text = readFileSync(join(folder, f), "utf8");
          const expected = /^# expect: (.+)$/m.exec(text)?.[1];
          expect(expected, "first line must say # expect: …").toBeDefined();
          const denials = admit(policies, { object: parse(text), namespaceLabels: WMS_NS });
          if (verdict === "good") {
            expect(expected).toBe("admitted");
            expect(denials).toEqual([]);
          } else {
            expect(denials.map((d) => d.message).join("\n")).toContain(expected);
            // a bad example breaks its own policy only: the API server names just the first
            // denying policy, and which one that is differs between runs (the e2e checks the name).
            // A model Namespace without its label is the one case two policies must refuse.
            const others = denials.filter((d) => d.policy !== `wms-${dir}`).map((d) => d.policy);
            const allowed = parse(text)?.kind === "Namespace" ? ["wms-pss-required"] : [];
            expect(others.filter((p) => !allowed.includes(p))).toEqual([]);
          }
        });
      }
    }
  }

  const fixture = (f: string) => parse(readFileSync(join(REPO_ROOT, "policies", f), "utf8"));

  it("objects in namespaces no model project may create are not judged by the model policies", () => {
    const object = fixture("image-digest/bad/tag-only.yaml");
    object.metadata.namespace = "monitoring";
    expect(admit(policies, { object, namespaceLabels: WMS_NS })).toEqual([]);
  });

  // issue 28: a commit chooses its labels, not the names its project allows
  it("a model namespace's objects are judged by its name, whatever its labels", () => {
    const object = fixture("image-digest/bad/tag-only.yaml");
    for (const ns of ["dev-wms-1-1-0", "staging-wms-evil", "prod-wms-routing"]) {
      object.metadata.namespace = ns;
      expect(
        admit(policies, { object, namespaceLabels: {} }).map((d) => d.policy),
        ns,
      ).toContain("wms-image-digest");
    }
  });

  it("every namespace the model projects may create matches the policies' name pattern", () => {
    const projects = appsDocs(REPO_ROOT)
      .map((d) => d.object)
      .filter((o) => o.kind === "AppProject" && o.metadata.name !== "platform");
    expect(projects.length).toBe(3);
    const globs = projects.flatMap((p) => [
      ...p.spec.destinations.map((d: { namespace: string }) => d.namespace),
      ...p.spec.clusterResourceWhitelist.map((r: { name?: string }) => r.name ?? "*"),
    ]);
    for (const glob of globs) {
      // the glob's fixed prefix (<env>-wms-), then anything: judged by every model policy
      const ns = glob.replace(/\*.*$/, "x");
      expect(glob.indexOf("*"), `${glob} must end in its only wildcard`).toBe(glob.length - 1);
      for (const name of [
        "wms-image-digest",
        "wms-model-pinned",
        "wms-restricted-pods",
        "wms-route-weights",
      ]) {
        const p = policies.find((x) => x.name === name);
        const ctx = { object: new Map(), request: new Map([["namespace", ns]]) };
        expect(
          p?.conditions.every((c) => c.run(ctx) === true),
          `${name} on ${ns}`,
        ).toBe(true);
      }
      const ctx = { object: new Map([["metadata", new Map([["name", ns]])]]) };
      const pss = policies.find((x) => x.name === "wms-namespace-pss");
      expect(
        pss?.conditions.every((c) => c.run(ctx) === true),
        `wms-namespace-pss on ${ns}`,
      ).toBe(true);
    }
  });

  it("an unlabelled namespace is refused, model namespace or not; the API server's own are not judged", () => {
    const ns = (name: string, labels?: Record<string, string>) => ({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, ...(labels ? { labels } : {}) },
    });
    const deniedBy = (o: Record<string, unknown>) =>
      admit(policies, { object: o, namespaceLabels: {} }).map((d) => d.policy);
    expect(deniedBy(ns("dev-wms-evil"))).toEqual(["wms-namespace-pss", "wms-pss-required"]);
    expect(deniedBy(ns("evil"))).toEqual(["wms-pss-required"]);
    // a model namespace may not pick a weaker level than restricted
    expect(deniedBy(ns("prod-wms-x", { "pod-security.kubernetes.io/enforce": "privileged" }))).toEqual([
      "wms-namespace-pss",
    ]);
    expect(deniedBy(ns("monitoring", { "pod-security.kubernetes.io/enforce": "privileged" }))).toEqual([]);
    expect(deniedBy(ns("kube-system"))).toEqual([]);
  });

  it("every Namespace in apps/ and every namespace an Application creates carries a Pod Security level", () => {
    const docs = appsDocs(REPO_ROOT).map((d) => d.object);
    const missing: string[] = [];
    for (const o of docs.filter((x) => x.kind === "Namespace")) {
      if (admit(policies, { object: o, namespaceLabels: {} }).length)
        missing.push(`Namespace ${o.metadata.name}`);
    }
    const apps = docs.flatMap((o) =>
      o.kind === "Application" ? [o.spec] : o.kind === "ApplicationSet" ? [o.spec.template.spec] : [],
    );
    for (const spec of apps) {
      if (!spec.syncPolicy?.syncOptions?.includes("CreateNamespace=true")) continue;
      const name = spec.destination.namespace;
      const labels = spec.syncPolicy.managedNamespaceMetadata?.labels;
      const object = {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, ...(labels ? { labels } : {}) },
      };
      if (admit(policies, { object, namespaceLabels: {} }).length) missing.push(`CreateNamespace ${name}`);
    }
    expect(missing).toEqual([]);
  });

  it("every rendered object of every environment is admitted", () => {
    const { envs } = renderAll(REPO_ROOT);
    const objects = envs.flatMap((e) => e.objects);
    expect(objects.length).toBeGreaterThan(20);
    expect(admissionProblems(policies, objects)).toEqual([]);
  });
});
