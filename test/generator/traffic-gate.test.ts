/**
 * Readiness-gated switches, on the rendered output: in every model app the routes come in a
 * later Argo CD sync wave than a gate per serving version (a PodDisruptionBudget whose
 * minAvailable is the Ready pods the version's weight needs), and the gates come after the
 * Namespaces. Argo CD applies a wave only when the previous one is Healthy (syncContext.Sync,
 * gitops-engine pkg/sync/sync_context.go), and argocd-cm's health check of a gate is Healthy
 * only with that many Ready pods: a route never sends traffic ahead of capacity, whatever the
 * commits were (the render below puts a version that was never deployed straight on 100 %).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { EnvironmentConfig } from "../../generator/src/config.ts";
import { renderAll } from "../../generator/src/pipeline.ts";
import { minReplicas, replicaFloor } from "../../generator/src/render/capacity.ts";
import { GATE_LABEL } from "../../generator/src/render/gate.ts";
import { fixtureCopy, REPO_ROOT } from "../support/cli.ts";

type Obj = {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are read deep
  spec: any;
};

const wave = (o: Obj) => Number(o.metadata.annotations?.["argocd.argoproj.io/sync-wave"] ?? 0);

/** Render the basic fixture's dev with this version file; the objects by folder. */
function renderDev(versionFile?: string) {
  const root = fixtureCopy("basic");
  if (versionFile) writeFileSync(join(root, "environments/dev/wms.yaml"), versionFile);
  const dev = renderAll(root, ["dev"]).envs[0];
  if (!dev) throw new Error("dev did not render");
  const config = parse(
    readFileSync(join(root, "environments/dev/environment.yaml"), "utf8"),
  ) as EnvironmentConfig;
  const objects = dev.objects.map((o) => ({
    folder: o.file.split("/")[0] as string,
    object: o.object as unknown as Obj,
  }));
  return { config, objects };
}

/** What a sync of the model app must hold for the switch to be safe; problems, empty when it is. */
function gateProblems(config: EnvironmentConfig, objects: { folder: string; object: Obj }[]): string[] {
  const problems: string[] = [];
  const routing = objects.filter((o) => o.folder === "wms-routing").map((o) => o.object);
  const weighted = routing.find((o) => o.kind === "HTTPRoute" && o.metadata.name === "wms");
  if (!weighted) return ["no weighted HTTPRoute"];
  const gates = routing.filter((o) => o.kind === "PodDisruptionBudget");
  const namespaces = routing.filter((o) => o.kind === "Namespace");
  for (const route of routing.filter((o) => o.kind === "HTTPRoute")) {
    for (const ns of namespaces) {
      if (!(wave(ns) < wave(route)))
        problems.push(`Namespace ${ns.metadata.name} not before route ${route.metadata.name}`);
    }
  }
  for (const b of weighted.spec.rules[0].backendRefs as { namespace: string; weight: number }[]) {
    const gate = gates.find((g) => g.metadata.namespace === b.namespace);
    if (!gate) {
      problems.push(`no gate for ${b.namespace}`);
      continue;
    }
    if (gate.metadata.labels?.[GATE_LABEL] !== "true") problems.push(`${b.namespace}: gate not labelled`);
    if (!(wave(gate) < wave(weighted)))
      problems.push(`${b.namespace}: gate in wave ${wave(gate)}, route in ${wave(weighted)}`);
    for (const ns of namespaces) {
      if (!(wave(ns) < wave(gate)))
        problems.push(`${b.namespace}: gate not after Namespace ${ns.metadata.name}`);
    }
    if (gate.spec.minAvailable !== replicaFloor(config, b.weight)) {
      problems.push(
        `${b.namespace}: minAvailable ${gate.spec.minAvailable}, weight ${b.weight} needs ${replicaFloor(config, b.weight)}`,
      );
    }
    // the pods the gate counts are the version's server pods
    const deployment = objects.find(
      (o) => o.object.kind === "Deployment" && o.object.metadata.namespace === b.namespace,
    )?.object;
    expect(gate.spec.selector).toEqual(deployment?.spec.selector);
    // the autoscaler keeps at least the floor, plus one pod a drain may take (when max allows)
    const hpa = objects.find(
      (o) => o.object.kind === "HorizontalPodAutoscaler" && o.object.metadata.namespace === b.namespace,
    )?.object;
    if (!(hpa?.spec.minReplicas >= gate.spec.minAvailable))
      problems.push(`${b.namespace}: HPA min below the floor`);
  }
  return problems;
}

describe("a switch waits for the target's Ready pods (sync waves + gates)", () => {
  it("live 80 / canary 20: each serving version's gate precedes the route, at its weight's floor", () => {
    const { config, objects } = renderDev();
    expect(gateProblems(config, objects)).toEqual([]);
  });

  it("whatever the history: a version never deployed, put straight on 100 % (one push, a revert of --no-retain), is gated too", () => {
    const { config, objects } = renderDev("model: wms\nlive: 1.2.0\n");
    expect(gateProblems(config, objects)).toEqual([]);
    const gate = objects.find((o) => o.object.kind === "PodDisruptionBudget")?.object;
    expect(gate?.metadata.namespace).toBe("dev-wms-1-2-0");
    expect(gate?.spec.minAvailable).toBe(config.replicas.min);
  });

  it("the check fails when the route is not behind the gates", () => {
    const { config, objects } = renderDev();
    const route = objects.find(
      (o) => o.object.kind === "HTTPRoute" && o.object.metadata.name === "wms",
    )?.object;
    if (!route?.metadata.annotations) throw new Error("no annotations on the route");
    route.metadata.annotations["argocd.argoproj.io/sync-wave"] = "0";
    expect(gateProblems(config, objects).join("\n")).toMatch(/gate in wave 0, route in 0/);
  });

  it("one PodDisruptionBudget per version (the eviction API refuses a pod two budgets select)", () => {
    const { objects } = renderDev();
    const budgets = objects.filter((o) => o.object.kind === "PodDisruptionBudget");
    expect(budgets.map((b) => b.folder)).toEqual(["wms-routing", "wms-routing", "wms-routing"]);
    expect(new Set(budgets.map((b) => b.object.metadata.namespace)).size).toBe(3);
    // a retained version takes no traffic: no gate, disruptions as before
    const retained = budgets.find((b) => b.object.metadata.namespace === "dev-wms-1-0-0")?.object;
    expect(retained?.spec).toMatchObject({ maxUnavailable: 1 });
    expect(retained?.metadata.labels?.[GATE_LABEL]).toBeUndefined();
  });
});

describe("capacity follows the weight (Argo Rollouts' setCanaryScale)", () => {
  const prod = { replicas: { min: 3, max: 12 } } as EnvironmentConfig;
  it("the floor is ceil(replicas.min × weight / 100), at least 1 with traffic, 0 without", () => {
    expect([0, 10, 34, 50, 67, 100].map((w) => replicaFloor(prod, w))).toEqual([0, 1, 2, 2, 3, 3]);
  });
  it("the autoscaler runs one pod above the floor (a drain never blocks on the gate), within max", () => {
    expect([0, 10, 50, 100].map((w) => minReplicas(prod, w))).toEqual([3, 3, 3, 4]);
    const small = { replicas: { min: 2, max: 2 } } as EnvironmentConfig;
    expect(minReplicas(small, 100)).toBe(2);
    expect(replicaFloor(small, 100)).toBe(2);
  });
});

describe("argocd-cm: the gate's health", () => {
  const cm = parse(readFileSync(join(REPO_ROOT, "apps/argocd/argocd-cm.yaml"), "utf8")) as {
    data: Record<string, string>;
  };
  const lua = cm.data["resource.customizations.health.policy_PodDisruptionBudget"] ?? "";
  it("counts Ready pods of the current spec for budgets labelled as gates, and keeps the built-in check for others", () => {
    expect(lua).toContain(`obj.metadata.labels["${GATE_LABEL}"] == "true"`);
    expect(lua).toMatch(/st\.observedGeneration < obj\.metadata\.generation/);
    expect(lua).toMatch(/ready >= need/);
    // never Degraded for a gate: a Degraded resource fails the sync instead of holding the wave
    const gatePart = lua.slice(0, lua.indexOf("hs = {}"));
    expect(gatePart).not.toContain("Degraded");
    // the built-in script, as Argo CD v3.5.7 ships it, for every other budget
    expect(lua).toContain('condition.reason ~= "InsufficientPods"');
  });
});
