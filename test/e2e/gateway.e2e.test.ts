/**
 * The real gateway: Envoy Gateway (the pinned line, its controller a pod on the hub's real node)
 * programs an Envoy that serves dev's hostname; requests sent to it reach the model server pods,
 * and a weighted route splits them. metrics-server serves the resource metrics API.
 *
 * Runs when `up` brought the real gateway up (cluster.json realGateway: real nodes and the
 * gateway images, see test/e2e/cluster/gateway.ts); otherwise every test is skipped with why.
 *
 *   npm run cluster -- up && npx vitest run --config vitest.e2e.config.ts test/e2e/gateway.e2e.test.ts
 */
import { readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runCli } from "../support/cli.ts";
import { kubectl, kubectlJson } from "./cluster/kubectl.ts";
import {
  allSyncedTo,
  cloneWatched,
  eventually,
  expectedApps,
  git,
  HUB,
  KUBECONFIG_FILE,
  push,
  routeBackends,
} from "./support.ts";
import { load, REAL_GATEWAY } from "./traffic/gateway.ts";
import { summarize, withinBinomial } from "./traffic/load.ts";

const REAL = REAL_GATEWAY;
const ROUTING_NS = "dev-wms-routing";
/** Requests in the split measurement and the tolerance stated on the measured share. */
const SPLIT_N = 200;
const SIGMAS = 4;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
const cond = (cs: Condition[] | undefined, type: string) => cs?.find((c) => c.type === type);

/** dev's version apps (on the hub), for waiting on a push. */
const devApps = (dir: string) =>
  expectedApps(dir)
    .filter((a) => a.environment === "dev")
    .map((a) => a.appName);

let work: string | undefined;

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// Skipped when `up` ran without the real gateway (E2E_GATEWAY=0, E2E_REAL_NODE_ONLY=none, or its
// images not built) or against another cluster: there is no gateway of ours to send to.
describe.skipIf(!REAL)("the real gateway (Envoy Gateway on the hub's node)", () => {
  it("Envoy Gateway accepts the GatewayClass, programs the Gateway and accepts dev's HTTPRoute", async () => {
    await eventually(
      "GatewayClass envoy Accepted, Gateway gateway/wms Programmed, HTTPRoute dev-wms-routing/wms Accepted",
      async () => {
        const gc = kubectlJson<{ status?: { conditions?: Condition[] } }>(HUB, [
          "get",
          "gatewayclass",
          "envoy",
        ]);
        if (cond(gc.status?.conditions, "Accepted")?.status !== "True")
          return `GatewayClass: ${JSON.stringify(gc.status)}`;
        const gw = kubectlJson<{ status?: { conditions?: Condition[] } }>(HUB, [
          "-n",
          "gateway",
          "get",
          "gateway",
          "wms",
        ]);
        if (cond(gw.status?.conditions, "Programmed")?.status !== "True")
          return `Gateway: ${JSON.stringify(gw.status)}`;
        const route = kubectlJson<{
          status?: { parents?: { controllerName: string; conditions?: Condition[] }[] };
        }>(HUB, ["-n", ROUTING_NS, "get", "httproute", "wms"]);
        const parent = route.status?.parents?.find(
          (p) => p.controllerName === "gateway.envoyproxy.io/gatewayclass-controller",
        );
        if (cond(parent?.conditions, "Accepted")?.status !== "True")
          return `HTTPRoute: ${JSON.stringify(route.status)}`;
        if (cond(parent?.conditions, "ResolvedRefs")?.status !== "True")
          return `HTTPRoute refs: ${JSON.stringify(parent?.conditions)}`;
        return true;
      },
      600_000,
    );
  });

  it("a request with dev's Host header, sent to Envoy, is answered by a model server pod", async () => {
    const live = /^live: (.*)$/m
      .exec(readFileSync(`${REPO_ROOT}/environments/dev/wms.yaml`, "utf8"))?.[1]
      ?.trim();
    const records = await eventually(
      "a 200 through the gateway",
      async () => {
        const r = await load(3, 3);
        return r.some((x) => x.status === 200) ? r : JSON.stringify(r);
      },
      300_000,
    );
    const ok = records.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThan(0);
    for (const r of ok) {
      expect(r.version).toBe(live);
      expect(r.maskValid).toBe(true);
    }
  });

  it(`a 50/50 route splits ${SPLIT_N} real requests within ${SIGMAS} binomial sigmas`, async () => {
    work = cloneWatched();
    const r = runCli(
      ["deploy", "--env", "dev", "--version", "1.0.0", "--canary", "50", "--commit", "--root", work],
      {
        env: { KUBECONFIG: KUBECONFIG_FILE },
      },
    );
    if (r.code !== 0) throw new Error(`gen deploy exited ${r.code}: ${r.stderr}${r.stdout}`);
    const sha = push(work);
    await allSyncedTo(sha, devApps(work));
    await eventually("50/50 in dev's HTTPRoute", async () => {
      const w = (await routeBackends(HUB, ROUTING_NS)).map((b) => b.weight ?? 1);
      return w.filter((x) => x === 50).length === 2 ? true : JSON.stringify(w);
    });
    // both versions answer before measuring (Envoy gets the route over xDS after the sync)
    await eventually(
      "both versions seen through the gateway",
      async () => {
        const s = summarize(await load(20, 5));
        return Object.keys(s.byVersion).length === 2 ? true : JSON.stringify(s);
      },
      180_000,
    );
    const records = await load(SPLIT_N, 5);
    const s = summarize(records);
    console.log(`split: ${JSON.stringify(s)} (n=${s.total}, tolerance ${SIGMAS} sigma of p=0.5)`);
    expect(s.failed).toBe(0);
    expect(s.invalidMasks).toBe(0);
    for (const v of ["1.0.0", "1.1.0"]) {
      expect(
        withinBinomial(s.byVersion[v] ?? 0, s.ok, 0.5, SIGMAS),
        `${v}: ${s.byVersion[v]} of ${s.ok}`,
      ).toBe(true);
    }
    git(work, ["revert", "--no-edit", "HEAD"]);
    await allSyncedTo(push(work), devApps(work));
  });

  it("metrics-server serves the resource metrics API: dev's HPA reads CPU", async () => {
    await eventually(
      "node metrics and dev's HPA current CPU",
      async () => {
        const nodes = JSON.parse(kubectl(HUB, ["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"])) as {
          items: unknown[];
        };
        if (nodes.items.length === 0) return "no node metrics";
        const hpa = kubectlJson<{ status?: { currentMetrics?: { resource?: { name: string } }[] } }>(HUB, [
          "-n",
          "dev-wms-1-1-0",
          "get",
          "hpa",
          "wms",
        ]);
        return hpa.status?.currentMetrics?.some((m) => m.resource?.name === "cpu")
          ? true
          : JSON.stringify(hpa.status);
      },
      300_000,
    );
  });

  it("Envoy's per-cluster stats name dev's route rule (what the analysis scrapes)", async () => {
    const pods = kubectlJson<{ items: { status: { podIP: string } }[] }>(HUB, [
      "-n",
      "envoy-gateway-system",
      "get",
      "pods",
      "-l",
      "gateway.envoyproxy.io/owning-gateway-name=wms",
    ]);
    const ip = pods.items[0]?.status.podIP;
    expect(ip).toBeTruthy();
    const text = await new Promise<string>((resolve, reject) => {
      request({ host: ip, port: 19001, path: "/stats/prometheus", agent: false }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve(body));
      })
        .on("error", reject)
        .end();
    });
    expect(text).toMatch(
      new RegExp(
        `envoy_cluster_upstream_rq_xx\\{[^}]*envoy_cluster_name="httproute/${ROUTING_NS}/wms/rule/\\d+"`,
      ),
    );
    expect(text).toMatch(
      new RegExp(
        `envoy_cluster_upstream_rq_time_bucket\\{[^}]*envoy_cluster_name="httproute/${ROUTING_NS}/wms/rule/\\d+"`,
      ),
    );
  });
});

describe.skipIf(REAL)("the real gateway", () => {
  it.skip("needs `up` with real nodes and the gateway images (bash scripts/setup-cluster.sh gateway)", () => {});
});
