/**
 * Capacity that holds when everything scales at once: for each environment, every deployed
 * version (live + retained + canary, at least one of each slot) at its HPA maximum plus the
 * rolling update's surge pod (maxSurge 1), requesting environment.yaml's resources, packs onto
 * the most nodes the Karpenter NodePool's limits allow (terraform.tfvars node_pool), for every
 * instance type the NodePool may pick; and the platform (terraform/platform-budget.yaml) packs
 * onto the system node group's guaranteed nodes (node_group.min_size). Each node first carries
 * the daemonsets; what it offers is EKS's allocatable (test/support/capacity.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import {
  allocatable,
  INSTANCE_TYPES,
  mebibytes,
  milliCpu,
  nodesWithinLimits,
  type Pod,
  pack,
  type Resources,
} from "./support/capacity.ts";
import { REPO_ROOT } from "./support/cli.ts";
import { readHcl } from "./support/hcl.ts";

const ENVIRONMENTS = ["dev", "staging", "prod"] as const;
const MODEL_SURGE = 1; // generator/src/render/stack.ts: rollingUpdate.maxSurge

const list = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).map(String);
const yaml = (p: string) => parseYaml(readFileSync(join(REPO_ROOT, p), "utf8"));

interface Budget {
  daemonsets: { name: string; cpu: string; memory: string }[];
  pods: Record<"every-cluster" | "hub", { name: string; replicas: number; cpu: string; memory: string }[]>;
}

interface Sizing {
  env: string;
  hub: boolean;
  requests: { cpu: string; memory: string };
  maxReplicas: number;
  /** versions per model, counting an empty canary/retain slot as one */
  versions: number[];
  nodeGroup: { instance_types: unknown; min_size: number };
  nodePool: { instance_types: unknown; cpu_limit: number; memory_limit_gib: number };
}

function loadSizing(env: string): Sizing {
  const cfg = yaml(`environments/${env}/environment.yaml`);
  const tfvars = readHcl(`terraform/envs/${env}/terraform.tfvars`);
  const dir = join(REPO_ROOT, "environments", env);
  const versionFiles = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== "environment.yaml");
  // Deployed versions, with room for a canary and a retained version where none is named yet:
  // adding one is a commit to the version file, not to terraform.
  const versions = versionFiles.map((f) => {
    const v = yaml(`environments/${env}/${f}`);
    return 1 + Math.max(1, v.retain?.length ?? 0) + 1;
  });
  return {
    env,
    hub: cfg.destination.cluster === "in-cluster",
    requests: cfg.resources.requests,
    maxReplicas: cfg.replicas.max,
    versions: versions.length ? versions : [3], // nothing deployed yet: one model's three slots
    nodeGroup: tfvars.node_group as Sizing["nodeGroup"],
    nodePool: tfvars.node_pool as Sizing["nodePool"],
  };
}

const budget = yaml("terraform/platform-budget.yaml") as Budget;
const res = (r: { cpu: string; memory: string }): Resources => ({
  cpu: milliCpu(r.cpu),
  memory: mebibytes(r.memory),
});
const daemonsets = budget.daemonsets.map(res);

function instance(name: string) {
  const t = INSTANCE_TYPES[name];
  if (!t)
    throw new Error(`instance type ${name} is not in test/support/capacity.ts INSTANCE_TYPES: add its shape`);
  return t;
}

/** Problems with the model servers' NodePool; empty when everything fits. */
function nodePoolProblems(s: Sizing): string[] {
  const pod = res(s.requests);
  const pods: Pod[] = s.versions.flatMap((n, m) =>
    Array.from({ length: n * (s.maxReplicas + MODEL_SURGE) }, (_, i) => ({ name: `model${m}-${i}`, ...pod })),
  );
  return list(s.nodePool.instance_types).flatMap((name) => {
    const type = instance(name);
    const nodes = nodesWithinLimits(type, s.nodePool.cpu_limit, s.nodePool.memory_limit_gib);
    const unplaced = pack(pods, nodes, allocatable(type), daemonsets);
    return unplaced.length
      ? [
          `${s.env}: ${pods.length} model-server pods (${s.versions.join("+")} versions × (max ${s.maxReplicas} + surge ${MODEL_SURGE}) of ${s.requests.cpu} CPU / ${s.requests.memory}) do not fit ${nodes} × ${name} (node_pool limits ${s.nodePool.cpu_limit} vCPU / ${s.nodePool.memory_limit_gib} GiB): ${unplaced.length} stay Pending`,
        ]
      : [];
  });
}

/** Problems with the system node group; empty when the platform fits its guaranteed nodes. */
function systemProblems(s: Sizing): string[] {
  const groups = [...budget.pods["every-cluster"], ...(s.hub ? budget.pods.hub : [])];
  const pods: Pod[] = groups.flatMap((g) =>
    Array.from({ length: g.replicas }, (_, i) => ({ name: `${g.name}-${i}`, ...res(g) })),
  );
  return list(s.nodeGroup.instance_types).flatMap((name) => {
    const unplaced = pack(pods, s.nodeGroup.min_size, allocatable(instance(name)), daemonsets);
    return unplaced.length
      ? [
          `${s.env}: the platform does not fit ${s.nodeGroup.min_size} × ${name} (node_group.min_size): ${unplaced.map((p) => p.name).join(", ")} stay Pending`,
        ]
      : [];
  });
}

describe("EKS allocatable (nodeadm's kube-reserved and eviction threshold)", () => {
  it("matches the formula worked by hand for the node types in use", () => {
    // m7i.xlarge: cpu 4000 − (60 + 10 + 10) = 3920m; memory ⌊16384 × 0.925⌋ = 15155 − (11 × 58 + 255) − 100
    expect(allocatable(instance("m7i.xlarge"))).toEqual({ cpu: 3920, memory: 14162, pods: 58 });
    // m7i.2xlarge: cpu 8000 − (60 + 10 + 10 + 10) = 7910m; memory 30310 − 893 − 100
    expect(allocatable(instance("m7i.2xlarge"))).toEqual({ cpu: 7910, memory: 29317, pods: 58 });
    // m7i.large: cpu 2000 − (60 + 10) = 1930m; memory 7577 − (11 × 29 + 255) − 100
    expect(allocatable(instance("m7i.large"))).toEqual({ cpu: 1930, memory: 6903, pods: 29 });
  });
});

describe("capacity per environment", () => {
  for (const env of ENVIRONMENTS) {
    const s = loadSizing(env);

    it(`${env}: live + retained + canary at max replicas + surge fit the NodePool at its limits, for every instance type it may pick`, () => {
      expect(list(s.nodePool.instance_types).length).toBeGreaterThan(0);
      expect(nodePoolProblems(s)).toEqual([]);
    });

    it(`${env}: the platform${s.hub ? " (hub: Argo CD and MLflow too)" : ""} fits the system node group`, () => {
      expect(systemProblems(s)).toEqual([]);
    });
  }
});

describe("the capacity check fails when it should", () => {
  const prod = loadSizing("prod");

  it("a NodePool limit that only fits with the larger instance type fails for the smaller one", () => {
    // 48 vCPU = 6 × m7i.2xlarge (7 one-CPU pods each: 42 ≥ 39) but 12 × m7i.xlarge (3 each: 36 < 39)
    const tight = { ...prod, nodePool: { ...prod.nodePool, cpu_limit: 48 } };
    const problems = nodePoolProblems(tight);
    expect(problems.join("\n")).toMatch(/m[67]i\.xlarge/);
    expect(problems.join("\n")).not.toMatch(/2xlarge/);
  });

  it("raising the HPA maximum past what the NodePool holds fails", () => {
    expect(nodePoolProblems({ ...prod, maxReplicas: prod.maxReplicas * 2 })).not.toEqual([]);
  });

  it("a fourth deployed version fails where three fit", () => {
    expect(nodePoolProblems({ ...prod, versions: [4] })).not.toEqual([]);
  });

  it("one system node cannot hold the hub's platform", () => {
    const dev = loadSizing("dev");
    expect(systemProblems({ ...dev, nodeGroup: { ...dev.nodeGroup, min_size: 1 } })).not.toEqual([]);
  });
});

/**
 * The NodePool that runs is the one sized here: apps/platform/karpenter.yaml patches its
 * instance types, capacity type and limits from the cluster secret's node_pool_* annotations,
 * which terraform's argocd_cluster output writes from tfvars node_pool. The committed secrets
 * must say what the tfvars say, or the capacity above is checked for a NodePool nobody runs.
 */
describe("the NodePool Argo CD renders is the one sized here", () => {
  const secrets = readdirSync(join(REPO_ROOT, "apps/argocd/clusters")).map((f) => ({
    file: `apps/argocd/clusters/${f}`,
    object: yaml(`apps/argocd/clusters/${f}`),
  }));
  const nodePoolOf = (annotations: Record<string, string>) => ({
    instance_types: JSON.parse(annotations.node_pool_instance_types ?? "null"),
    capacity_type: annotations.node_pool_capacity_type,
    cpu_limit: Number(annotations.node_pool_cpu_limit),
    memory_limit_gib: mebibytes(annotations.node_pool_memory_limit ?? "0") / 1024,
  });
  const problems = (env: string, annotations: Record<string, string>): string[] => {
    const want = readHcl(`terraform/envs/${env}/terraform.tfvars`).node_pool as Record<string, unknown>;
    const got = nodePoolOf(annotations) as Record<string, unknown>;
    return Object.keys(want)
      .filter((k) => JSON.stringify(got[k]) !== JSON.stringify(want[k]))
      .map(
        (k) =>
          `${env}: cluster secret node_pool ${k} ${JSON.stringify(got[k])} ≠ tfvars ${JSON.stringify(want[k])}`,
      );
  };

  it("each environment's cluster secret carries its tfvars node_pool", () => {
    for (const env of ENVIRONMENTS) {
      const s = secrets.filter((x) => x.object.metadata.labels?.environment === env);
      expect(s, `${env}: one cluster secret`).toHaveLength(1);
      expect(problems(env, s[0]?.object.metadata.annotations ?? {})).toEqual([]);
    }
  });

  it("the karpenter-nodes ApplicationSet patches the NodePool from those annotations", () => {
    const set = parseAllDocuments(readFileSync(join(REPO_ROOT, "apps/platform/karpenter.yaml"), "utf8"))
      .map((d) => d.toJS())
      .find((o) => o?.metadata?.name === "karpenter-nodes");
    const patch = set.spec.template.spec.source.kustomize.patches.find(
      (p: { target: { kind: string } }) => p.target.kind === "NodePool",
    );
    for (const a of [
      "node_pool_instance_types",
      "node_pool_capacity_type",
      "node_pool_cpu_limit",
      "node_pool_memory_limit",
    ])
      expect(patch?.patch, a).toContain(`index .metadata.annotations "${a}"`);
  });

  it("fails when a cluster secret's limit drifts from the tfvars", () => {
    const prod = secrets.find((x) => x.object.metadata.labels?.environment === "prod");
    const drifted = { ...prod?.object.metadata.annotations, node_pool_cpu_limit: "96" };
    expect(problems("prod", drifted)).toEqual(["prod: cluster secret node_pool cpu_limit 96 ≠ tfvars 56"]);
  });
});
