/**
 * The rendered NetworkPolicies admit the namespaces where the pinned components actually run,
 * and let the model server reach STS where terraform puts it:
 *   - generator/src/platform.ts PLATFORM_NAMESPACES agrees with apps/: the namespace the
 *     Application (or ApplicationSet template) installing chart gateway-helm deploys to (Envoy
 *     Gateway runs its proxies there unless told to use the Gateway's namespace), the one of
 *     chart kube-prometheus-stack (Prometheus), and the one Argo CD itself is installed into;
 *   - every rendered version's policies take their peers from PLATFORM_NAMESPACES, and the STS
 *     egress rule covers every VPC terraform makes, whose network module creates the STS
 *     interface endpoint with private DNS.
 * apps/ is read generically (any file, Application or ApplicationSet, source or sources), so
 * the check follows however apps/ is arranged.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { AWS_STS, PLATFORM_NAMESPACES } from "../generator/src/platform.ts";
import { REPO_ROOT } from "./support/cli.ts";
import { readHcl } from "./support/hcl.ts";

const ENVIRONMENTS = ["dev", "staging", "prod"] as const;
type Doc = Record<string, unknown> & { kind?: string; metadata?: { name?: string } };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}

/** Every YAML document under a folder, with the file it came from. */
function documents(dir: string): { file: string; doc: Doc }[] {
  return yamlFiles(dir).flatMap((file) =>
    parseAllDocuments(readFileSync(file, "utf8"))
      .map((d) => d.toJS() as Doc)
      .filter((doc) => doc && typeof doc === "object")
      .map((doc) => ({ file: relative(REPO_ROOT, file), doc })),
  );
}

interface Install {
  file: string;
  app: string;
  chart?: string;
  path?: string;
  namespace?: string;
  values: string;
}

/** What each Application (or ApplicationSet template) installs, and into which namespace. */
function installs(docs: { file: string; doc: Doc }[]): Install[] {
  return docs.flatMap(({ file, doc }) => {
    const spec = (
      doc.kind === "Application"
        ? doc.spec
        : doc.kind === "ApplicationSet"
          ? (doc.spec as { template?: { spec?: unknown } })?.template?.spec
          : undefined
    ) as
      | {
          source?: Record<string, unknown>;
          sources?: Record<string, unknown>[];
          destination?: { namespace?: string };
        }
      | undefined;
    if (!spec) return [];
    const sources = [...(spec.source ? [spec.source] : []), ...(spec.sources ?? [])];
    return sources.map((s) => ({
      file,
      app: String(doc.metadata?.name),
      chart: s.chart as string | undefined,
      path: s.path as string | undefined,
      namespace: spec.destination?.namespace,
      values: JSON.stringify(s.helm ?? {}),
    }));
  });
}

/** Problems: PLATFORM_NAMESPACES against what apps/ installs. */
function namespaceProblems(found: Install[]): string[] {
  const problems: string[] = [];
  const expectOne = (what: string, match: (i: Install) => boolean, want: string, why: string) => {
    const hits = found.filter(match);
    if (hits.length === 0) problems.push(`apps/: no Application installs ${what}`);
    for (const h of hits)
      if (h.namespace !== want)
        problems.push(
          `${h.file}: ${h.app} installs ${what} into ${h.namespace}, but generator/src/platform.ts says ${want} (${why})`,
        );
  };
  expectOne(
    "chart gateway-helm (Envoy Gateway)",
    (i) => i.chart === "gateway-helm",
    PLATFORM_NAMESPACES.gatewayProxies,
    "its proxies run in the controller's namespace",
  );
  for (const i of found.filter((x) => x.chart === "gateway-helm" && /GatewayNamespace/.test(x.values)))
    problems.push(
      `${i.file}: ${i.app} runs the proxies in each Gateway's namespace (deploy type GatewayNamespace): PLATFORM_NAMESPACES.gatewayProxies must then be the Gateway's namespace`,
    );
  expectOne(
    "chart kube-prometheus-stack (Prometheus)",
    (i) => i.chart === "kube-prometheus-stack",
    PLATFORM_NAMESPACES.prometheus,
    "Prometheus scrapes the metrics port from there",
  );
  expectOne(
    "apps/argocd (Argo CD)",
    (i) => i.path === "apps/argocd",
    PLATFORM_NAMESPACES.argocd,
    "Argo CD's namespace",
  );
  return problems;
}

interface Policy {
  metadata: { name: string; namespace: string };
  spec: {
    ingress?: { from: { namespaceSelector?: { matchLabels: Record<string, string> } }[] }[];
    egress?: { to: { ipBlock?: { cidr: string } }[]; ports: { port: number; protocol: string }[] }[];
  };
}

/** Problems: one rendered version's NetworkPolicies against PLATFORM_NAMESPACES and AWS_STS. */
function policyProblems(folder: string, policies: Policy[]): string[] {
  const byName = new Map(policies.map((p) => [p.metadata.name, p]));
  const problems: string[] = [];
  const sources = (name: string) =>
    (byName.get(name)?.spec.ingress ?? []).flatMap((r) =>
      r.from.map((f) => f.namespaceSelector?.matchLabels["kubernetes.io/metadata.name"]),
    );
  for (const [name, want] of [
    ["allow-gateway-to-inference", PLATFORM_NAMESPACES.gatewayProxies],
    ["allow-monitoring-to-metrics", PLATFORM_NAMESPACES.prometheus],
  ] as const) {
    const got = sources(name);
    if (got.length !== 1 || got[0] !== want)
      problems.push(`${folder}: ${name} admits ${JSON.stringify(got)}, expected [${want}]`);
  }
  const sts = byName.get("allow-sts-egress")?.spec.egress ?? [];
  const allowsSts = sts.some(
    (r) =>
      r.to.some((t) => t.ipBlock?.cidr === AWS_STS.vpcSupernet) &&
      r.ports.some((p) => p.port === AWS_STS.port && p.protocol === "TCP"),
  );
  if (!allowsSts)
    problems.push(
      `${folder}: no allow-sts-egress to ${AWS_STS.vpcSupernet}:${AWS_STS.port} (IRSA needs STS)`,
    );
  return problems;
}

/** Is an IPv4 CIDR inside another? */
function within(inner: string, outer: string): boolean {
  const parse = (c: string) => {
    const [ip, bits] = c.split("/");
    const n = (ip ?? "").split(".").reduce((a, o) => a * 256 + Number(o), 0);
    return { n, bits: Number(bits) };
  };
  const i = parse(inner);
  const o = parse(outer);
  const block = 2 ** (32 - o.bits);
  return i.bits >= o.bits && Math.floor(i.n / block) === Math.floor(o.n / block);
}

function renderedPolicies(env: string): Map<string, Policy[]> {
  const root = join(REPO_ROOT, "environments", env, "rendered");
  const out = new Map<string, Policy[]>();
  let folders: string[] = [];
  try {
    folders = readdirSync(root).filter((f) => !f.endsWith("-routing"));
  } catch {
    return out; // nothing rendered (prod deploys nothing yet)
  }
  for (const folder of folders) {
    const dir = join(root, folder);
    out.set(
      `${env}/${folder}`,
      readdirSync(dir)
        .filter((f) => f.startsWith("networkpolicy."))
        .map((f) => parseYaml(readFileSync(join(dir, f), "utf8")) as Policy),
    );
  }
  return out;
}

describe("NetworkPolicy peers are where the pinned components run", () => {
  const found = installs(documents(join(REPO_ROOT, "apps")));

  it("apps/ installs Envoy Gateway, kube-prometheus-stack and Argo CD into PLATFORM_NAMESPACES", () => {
    expect(found.length).toBeGreaterThan(3);
    expect(namespaceProblems(found)).toEqual([]);
  });

  it("environment.yaml's monitoring.namespace, where set, agrees with PLATFORM_NAMESPACES", () => {
    for (const env of ENVIRONMENTS) {
      const cfg = parseYaml(readFileSync(join(REPO_ROOT, `environments/${env}/environment.yaml`), "utf8"));
      expect(cfg.monitoring.namespace, env).toBe(PLATFORM_NAMESPACES.prometheus);
    }
  });

  it("every rendered version admits the gateway's proxies and Prometheus from those namespaces and reaches STS", () => {
    const all = ENVIRONMENTS.flatMap((env) => [...renderedPolicies(env)]);
    expect(all.length).toBeGreaterThan(0);
    expect(all.flatMap(([folder, policies]) => policyProblems(folder, policies))).toEqual([]);
  });
});

describe("STS is reachable where terraform puts it", () => {
  it("every VPC lies in the STS egress block, and the network module makes the STS interface endpoint with private DNS", () => {
    for (const env of ENVIRONMENTS) {
      const cidr = String(readHcl(`terraform/envs/${env}/terraform.tfvars`).vpc_cidr);
      expect(within(cidr, AWS_STS.vpcSupernet), `${env} vpc_cidr ${cidr}`).toBe(true);
    }
    const main = readHcl("terraform/modules/network/main.tf") as {
      resource: Record<string, Record<string, Record<string, unknown>>>[];
    };
    const endpoint = main.resource.find((r) => r.aws_vpc_endpoint?.interface)?.aws_vpc_endpoint?.interface;
    expect(endpoint?.vpc_endpoint_type).toBe("Interface");
    expect(endpoint?.private_dns_enabled).toBe(true);
    const vars = readHcl("terraform/modules/network/variables.tf") as {
      variable: Record<string, { default?: unknown }>[];
    };
    const endpoints = vars.variable.find((v) => v.interface_endpoints)?.interface_endpoints?.default;
    expect([endpoints].flat()).toContain("sts");
    expect(AWS_STS.hostname("eu-central-1")).toBe("sts.eu-central-1.amazonaws.com");
  });
});

describe("the checks fail when the namespaces disagree", () => {
  const app = (chart: string, namespace: string, values = {}) => ({
    file: "apps/x.yaml",
    doc: {
      kind: "ApplicationSet",
      metadata: { name: chart },
      spec: { template: { spec: { source: { chart, helm: values }, destination: { namespace } } } },
    },
  });
  const argocd = {
    file: "apps/a.yaml",
    doc: {
      kind: "Application",
      metadata: { name: "argocd" },
      spec: { source: { path: "apps/argocd" }, destination: { namespace: "argocd" } },
    },
  };

  it("accepts the pinned layout", () => {
    expect(
      namespaceProblems(
        installs([
          app("gateway-helm", "envoy-gateway-system"),
          app("kube-prometheus-stack", "monitoring"),
          argocd,
        ]),
      ),
    ).toEqual([]);
  });

  it("Envoy Gateway installed elsewhere, or with proxies in the Gateway's namespace, fails", () => {
    expect(
      namespaceProblems(
        installs([app("gateway-helm", "gateway"), app("kube-prometheus-stack", "monitoring"), argocd]),
      ).join(),
    ).toMatch(/gateway-helm.*into gateway/);
    const perGateway = app("gateway-helm", "envoy-gateway-system", {
      valuesObject: {
        config: { envoyGateway: { provider: { kubernetes: { deploy: { type: "GatewayNamespace" } } } } },
      },
    });
    expect(
      namespaceProblems(installs([perGateway, app("kube-prometheus-stack", "monitoring"), argocd])).join(),
    ).toMatch(/GatewayNamespace/);
  });

  it("Prometheus elsewhere, or not installed at all, fails", () => {
    expect(
      namespaceProblems(
        installs([
          app("gateway-helm", "envoy-gateway-system"),
          app("kube-prometheus-stack", "observability"),
          argocd,
        ]),
      ).join(),
    ).toMatch(/kube-prometheus-stack.*into observability/);
    expect(namespaceProblems(installs([app("gateway-helm", "envoy-gateway-system"), argocd])).join()).toMatch(
      /no Application installs chart kube-prometheus-stack/,
    );
  });

  it("a rendered policy admitting the Gateway's namespace instead of the proxies', or lacking STS, fails", () => {
    const [folder, policies] = [...renderedPolicies("dev")][0] ?? ["", []];
    expect(policyProblems(folder, policies)).toEqual([]);
    const broken = structuredClone(policies);
    const gw = broken.find((p) => p.metadata.name === "allow-gateway-to-inference");
    const sel = gw?.spec.ingress?.[0]?.from[0]?.namespaceSelector;
    if (!sel) throw new Error("rendered allow-gateway-to-inference has no namespaceSelector");
    sel.matchLabels["kubernetes.io/metadata.name"] = "gateway";
    expect(policyProblems(folder, broken).join()).toMatch(/allow-gateway-to-inference admits \["gateway"\]/);
    const noSts = policies.filter((p) => p.metadata.name !== "allow-sts-egress");
    expect(policyProblems(folder, noSts).join()).toMatch(/no allow-sts-egress/);
  });

  it("a VPC outside the STS block is caught", () => {
    expect(within("10.30.0.0/16", "10.0.0.0/8")).toBe(true);
    expect(within("172.16.0.0/16", "10.0.0.0/8")).toBe(false);
    expect(within("10.0.0.0/7", "10.0.0.0/8")).toBe(false);
  });
});
