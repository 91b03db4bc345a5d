/**
 * The seed commit's real-gateway changes to apps/gateway (test/e2e/cluster/gateway.ts), offline:
 * the EnvoyProxy runs the locally built Envoy and finds its xDS server without cluster DNS, the
 * ACME certificate becomes a Secret every environment hostname verifies against, and nothing of
 * cert-manager is left for a cluster without it. When kustomize is built (.tools/bin), the
 * kustomization is built as Argo CD's repo server would.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import {
  adaptForGateway,
  GATEWAY_HOSTNAMES,
  gatewayVersions,
  imageRef,
  XDS_SERVER_HOST,
  xdsServiceIp,
} from "./e2e/cluster/gateway.ts";
import { BIN, REPO_ROOT, SERVICE_CIDR } from "./e2e/cluster/layout.ts";

const tmp = mkdtempSync(join(tmpdir(), "wms-gateway-seed-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function adapted(): { dir: string; notes: string[] } {
  const work = join(tmp, `work-${Math.random().toString(36).slice(2)}`);
  cpSync(join(REPO_ROOT, "apps/gateway"), join(work, "apps/gateway"), { recursive: true });
  const notes: string[] = [];
  adaptForGateway(work, notes, join(tmp, "pki"));
  return { dir: join(work, "apps/gateway"), notes };
}

interface Patch {
  target: { kind: string; name: string };
  patch: string;
}

describe("the seed's real gateway (apps/gateway)", () => {
  const { dir, notes } = adapted();
  const k = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as {
    resources: string[];
    patches: Patch[];
  };

  it("the EnvoyProxy runs the local Envoy image and resolves its xDS server to a fixed address in the hub's service range", () => {
    const p = k.patches.find((x) => x.target.kind === "EnvoyProxy" && x.target.name === "wms-nlb");
    expect(p, "a patch of EnvoyProxy wms-nlb").toBeDefined();
    const ops = parse(p?.patch ?? "[]") as { path: string; value: Record<string, unknown> }[];
    const deployment = ops.find((o) => o.path === "/spec/provider/kubernetes/envoyDeployment")?.value as {
      container: { image: string; volumeMounts: { name: string; mountPath: string; subPath: string }[] };
      pod: { volumes: { name: string; configMap: { name: string } }[] };
    };
    expect(deployment.container.image).toBe(`wms.local/envoy:${gatewayVersions().ENVOY_VERSION}`);
    expect(imageRef("envoy")).toBe(`wms.local/envoy:${gatewayVersions().ENVOY_VERSION}`);
    // the Envoy container's /etc/hosts names the xDS server, trailing dot included, at the fixed address
    expect(deployment.container.volumeMounts).toEqual([
      { name: "xds-hosts", mountPath: "/etc/hosts", subPath: "hosts", readOnly: true },
    ]);
    expect(deployment.pod.volumes[0]?.configMap.name).toBe("envoy-gateway-xds-hosts");
    const hosts = parse(readFileSync(join(dir, "envoy-gateway-xds-hosts-e2e.yaml"), "utf8")) as {
      metadata: { name: string };
      data: { hosts: string };
    };
    expect(hosts.metadata.name).toBe("envoy-gateway-xds-hosts");
    expect(hosts.data.hosts.split("\n")).toContain(`${xdsServiceIp()} ${XDS_SERVER_HOST}`);
    expect(XDS_SERVER_HOST.endsWith(".svc.cluster.local.")).toBe(true);
    expect(k.resources).toContain("envoy-gateway-xds-hosts-e2e.yaml");
    const svc = parse(readFileSync(join(dir, "envoy-gateway-xds-e2e.yaml"), "utf8")) as {
      spec: { clusterIP: string; ports: { port: number }[]; selector: Record<string, string> };
    };
    expect(svc.spec.clusterIP).toBe(xdsServiceIp());
    expect(svc.spec.ports[0]?.port).toBe(18000);
    // inside the hub's service range (first two octets of a /16)
    const prefix = (SERVICE_CIDR.hub.split("/")[0] ?? "").split(".").slice(0, 2).join(".");
    expect(xdsServiceIp().startsWith(`${prefix}.`)).toBe(true);
    expect(k.resources).toContain("envoy-gateway-xds-e2e.yaml");
  });

  it("cert-manager's Certificate and ClusterIssuer become a Secret valid for every environment hostname", () => {
    expect(k.resources).not.toContain("certificate.yaml");
    expect(k.resources).not.toContain("clusterissuer.yaml");
    expect(k.resources).toContain("wms-tls-e2e.yaml");
    const secret = parse(readFileSync(join(dir, "wms-tls-e2e.yaml"), "utf8")) as {
      metadata: { name: string; namespace: string };
      type: string;
      stringData: Record<string, string>;
    };
    expect(secret.metadata).toMatchObject({ name: "wms-tls", namespace: "gateway" });
    expect(secret.type).toBe("kubernetes.io/tls");
    const crt = join(tmp, "served.crt");
    writeFileSync(crt, secret.stringData["tls.crt"] ?? "");
    for (const host of GATEWAY_HOSTNAMES) {
      const out = execFileSync(
        "openssl",
        ["verify", "-CAfile", join(tmp, "pki/ca.crt"), "-verify_hostname", host, crt],
        { encoding: "utf8" },
      );
      expect(out).toMatch(/OK/);
    }
    // the gateway's hostnames are the environments' (apps/argocd/clusters/*.yaml)
    const clusters = readFileSync(join(REPO_ROOT, "apps/argocd/clusters/wms-staging.yaml"), "utf8");
    expect(clusters).toContain("wms.staging.example.com");
    expect(notes.join("\n")).toMatch(/Secret wms-tls/);
  });

  it.skipIf(!existsSync(join(BIN, "kustomize")))("kustomize builds it: no cert-manager kind is left", () => {
    const out = execFileSync(join(BIN, "kustomize"), ["build", dir], { encoding: "utf8" });
    const objs = parseAllDocuments(out).map(
      (d) => d.toJS() as { kind: string; apiVersion: string; spec?: unknown },
    );
    expect(objs.some((o) => o.apiVersion.startsWith("cert-manager.io"))).toBe(false);
    const ep = objs.find((o) => o.kind === "EnvoyProxy") as {
      spec: { provider: { kubernetes: { envoyDeployment: { container: { image: string } } } } };
    };
    expect(ep.spec.provider.kubernetes.envoyDeployment.container.image).toBe(imageRef("envoy"));
  });
});
