/**
 * Golden files: the rendered stack of one version (and the routing folder) as readable YAML
 * under test/golden/. A change to rendering shows up as a reviewable diff of those files;
 * update them deliberately with `npx vitest run -u`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderAll } from "../../generator/src/pipeline.ts";
import { validateRendered } from "../../generator/src/validation.ts";
import { fixtureCopy } from "../support/cli.ts";

describe("rendered stack of one version", () => {
  const root = fixtureCopy("basic");
  const { envs } = renderAll(root);
  const dev = envs.find((e) => e.name === "dev");

  it("renders every kind the stack needs, one object per file", () => {
    const kinds = dev?.objects
      .filter((o) => o.file.startsWith("wms-1.1.0/"))
      .map((o) => o.object.kind)
      .sort();
    expect(kinds).toEqual([
      "ConfigMap",
      "Deployment",
      "HorizontalPodAutoscaler",
      "LimitRange",
      "NetworkPolicy",
      "NetworkPolicy",
      "NetworkPolicy",
      "NetworkPolicy",
      "NetworkPolicy",
      "NetworkPolicy",
      "ReferenceGrant",
      "ResourceQuota",
      "Service",
      "ServiceAccount",
      "ServiceMonitor",
    ]);
  });

  for (const folder of ["wms-1.1.0", "wms-routing"]) {
    it(`matches the golden files of ${folder}`, async () => {
      const files = [...(dev?.files ?? [])].filter(([p]) => p.startsWith(`${folder}/`));
      expect(files.length).toBeGreaterThan(2);
      for (const [path, content] of files) {
        await expect(content).toMatchFileSnapshot(join("../golden/basic/dev", path));
      }
    });
  }

  it("every rendered object passes the upstream schemas strictly, and a stray field would not", () => {
    const objects = dev?.objects ?? [];
    expect(validateRendered("r", objects)).toEqual([]);
    const broken = objects.map((o) => structuredClone(o));
    const deployment = broken.find((o) => o.object.kind === "Deployment");
    if (!deployment) throw new Error("no Deployment rendered");
    (deployment.object.spec as { template: { spec: Record<string, unknown> } }).template.spec.hostNetworkk =
      true;
    const problems = validateRendered("r", broken);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.file).toBe(`r/${deployment.file}`);
    expect(`${problems[0]?.field} ${problems[0]?.message}`).toMatch(/hostNetworkk/);
  });

  it("renders a version file given as text (what a change would write) as if it were written, writing nothing", () => {
    const file = join(root, "environments/dev/wms.yaml");
    const text = readFileSync(file, "utf8");
    const same = renderAll(root, ["dev"], { dev: new Map([["wms.yaml", text]]) }).envs[0];
    expect([...(same?.files ?? [])]).toEqual([...(dev?.files ?? [])]);
    const noCanary = text.replace(/^canary:.*\n/m, "");
    expect(noCanary).not.toBe(text);
    const changed = renderAll(root, ["dev"], { dev: new Map([["wms.yaml", noCanary]]) }).envs[0];
    const deploys = (files: Map<string, string> | undefined) =>
      [...(files?.keys() ?? [])].some((p) => p.startsWith("wms-1.2.0/"));
    expect(deploys(dev?.files)).toBe(true);
    expect(deploys(changed?.files)).toBe(false);
    expect(readFileSync(file, "utf8")).toBe(text);
  });

  it("is byte-stable: rendering twice gives identical bytes", () => {
    const again = renderAll(root).envs.find((e) => e.name === "dev");
    expect([...(again?.files ?? [])]).toEqual([...(dev?.files ?? [])]);
  });
});
