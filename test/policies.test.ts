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

const policies = loadPolicies(REPO_ROOT);
const WMS_NS = { "app.kubernetes.io/part-of": "wms" };

describe("admission policies", () => {
  it("load, and pass the upstream schemas", () => {
    expect(policies.map((p) => p.name)).toEqual([
      "wms-image-digest",
      "wms-model-pinned",
      "wms-namespace-pss",
      "wms-restricted-pods",
      "wms-route-weights",
    ]);
    const docs = readdirSync(join(REPO_ROOT, "policies")).flatMap((d) =>
      readFileSync(join(REPO_ROOT, "policies", d, "policy.yaml"), "utf8")
        .split(/^---$/m)
        .map((text, index) => ({ file: `policies/${d}/policy.yaml`, index, object: parse(text) })),
    );
    expect(docs).toHaveLength(10);
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
          }
        });
      }
    }
  }

  it("objects outside wms namespaces are not judged", () => {
    const text = readFileSync(join(REPO_ROOT, "policies/image-digest/bad/tag-only.yaml"), "utf8");
    expect(admit(policies, { object: parse(text), namespaceLabels: {} })).toEqual([]);
  });

  it("every rendered object of every environment is admitted", () => {
    const { envs } = renderAll(REPO_ROOT);
    const objects = envs.flatMap((e) => e.objects);
    expect(objects.length).toBeGreaterThan(20);
    expect(admissionProblems(policies, objects)).toEqual([]);
  });
});
