/**
 * The schemas are of exactly what the repository pins: every pin in apps/ and terraform/ has
 * schemas generated from that release (recorded in generator/schemas/k8s/index.json), and every
 * kind the rendered folders and apps/ use has a schema.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "../../../test/support/cli.ts";
import { KUBERNETES_VERSION, knownKinds, schemaIndex } from "../../src/validate/index.ts";
import { pinDisagreements, prometheusModuleVersion, prometheusVersion, readRepoPins } from "./pins.ts";

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith(".yaml") ? [join(dir, e.name)] : [],
  );
}

/** apps/ and terraform/ copied, so a pin can be changed without touching the checkout. */
function repoCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "wms-pins-"));
  for (const sub of ["apps", "terraform"]) cpSync(join(REPO_ROOT, sub), join(dir, sub), { recursive: true });
  return dir;
}

const edit = (file: string, from: string | RegExp, to: string) => {
  const text = readFileSync(file, "utf8");
  const next = text.replace(from, to);
  expect(next, `${file} has ${String(from)}`).not.toBe(text);
  writeFileSync(file, next);
};

describe("schemas of exactly what runs", () => {
  it("every pin in apps/ and terraform/ has schemas generated from that release", () => {
    expect(pinDisagreements(REPO_ROOT, schemaIndex())).toEqual([]);
    const pins = readRepoPins(REPO_ROOT);
    expect(KUBERNETES_VERSION).toBe(pins.kubernetes.version);
    expect(schemaIndex().sources.kubernetes?.version).toMatch(
      new RegExp(`^v${pins.kubernetes.version}\\.\\d+$`),
    );
  });

  it("records the Prometheus kube-prometheus-stack deploys (the promtool the rules are tested with)", () => {
    const prom = prometheusVersion(readRepoPins(REPO_ROOT));
    expect(prom).toMatch(/^v3\./);
    expect(schemaIndex().prometheus?.version).toBe(prom);
    expect(schemaIndex().prometheus?.moduleVersion).toBe(prometheusModuleVersion(prom as string));
    expect(prometheusModuleVersion("v3.13.0")).toBe("v0.313.0");
    expect(prometheusModuleVersion("v3.5.2")).toBe("v0.305.2");
  });

  it.each<[string, (root: string) => string]>([
    [
      "the EKS minor in terraform",
      (root) => {
        const minor = readRepoPins(root).kubernetes.version;
        const next = `1.${Number(minor.split(".")[1]) + 1}`;
        for (const env of readdirSync(join(root, "terraform/envs"))) {
          const f = join(root, "terraform/envs", env, "terraform.tfvars");
          try {
            edit(f, `kubernetes_version = "${minor}"`, `kubernetes_version = "${next}"`);
          } catch {
            // an env without clusters (shared) has no kubernetes_version
          }
        }
        return next;
      },
    ],
    [
      "Argo CD's install tag in apps/argocd",
      (root) => {
        const { version } = readRepoPins(root).argocd;
        const next = version.replace(/\d+$/, (p) => String(Number(p) + 1));
        edit(join(root, "apps/argocd/kustomization.yaml"), version, next);
        return next;
      },
    ],
    [
      "a chart version in an Application",
      (root) => {
        const [, pin] = Object.entries(readRepoPins(root).components)[0] ?? [];
        if (!pin) throw new Error("no chart pinned in apps/");
        const next = pin.version.replace(/\d+$/, (p) => String(Number(p) + 1));
        // every source of that chart in the file (Envoy Gateway's two charts share one version)
        const esc = pin.version.replace(/[.]/g, "\\.");
        edit(join(root, pin.file), new RegExp(`targetRevision: ${esc}\\b`, "g"), `targetRevision: ${next}`);
        return next;
      },
    ],
  ])("fails when %s and its schemas disagree", (_, mutate) => {
    const root = repoCopy();
    const before = pinDisagreements(root, schemaIndex());
    const next = mutate(root);
    const after = pinDisagreements(root, schemaIndex());
    const added = after.filter((line) => !before.includes(line));
    expect(added.length).toBeGreaterThan(0);
    expect(added.join("\n")).toContain(next);
    expect(added.join("\n")).toMatch(/rerun `npm run schemas:vendor`/);
  });

  it("every kind the rendered folders and apps/ use has a schema", () => {
    const files = [
      ...readdirSync(join(REPO_ROOT, "environments")).flatMap((env) => {
        try {
          return yamlFiles(join(REPO_ROOT, "environments", env, "rendered"));
        } catch {
          return [];
        }
      }),
      ...yamlFiles(join(REPO_ROOT, "apps")).filter(
        (f) => !f.endsWith("kustomization.yaml") && !f.includes("/tests/"),
      ),
    ];
    const used = new Map<string, string>();
    for (const f of files) {
      for (const d of parseAllDocuments(readFileSync(f, "utf8"))) {
        const o = d.toJS() as { apiVersion?: string; kind?: string } | null;
        if (o?.apiVersion && o.kind) used.set(`${o.apiVersion}/${o.kind}`, relative(REPO_ROOT, f));
      }
    }
    expect(used.size).toBeGreaterThan(10);
    const known = new Set(knownKinds());
    const missing = [...used].filter(([k]) => !known.has(k)).map(([k, f]) => `${k} (${f})`);
    expect(missing).toEqual([]);
  });
});
