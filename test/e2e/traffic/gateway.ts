/**
 * Traffic through the real gateway (Envoy Gateway's Envoy on the hub's real node), for the
 * scenarios that assert what users get while a delivery step runs: the Envoy Service Envoy
 * Gateway made for Gateway gateway/wms, reached at its ClusterIP from the host (kube-proxy's
 * rules route it into the node), with the environment's Host header and the suite's CA.
 *
 * Only when `up` brought the real gateway (cluster.json realGateway); `REAL_GATEWAY` says so.
 */
import { existsSync, readFileSync } from "node:fs";
import { jpegPhoto } from "../../../model/server/test/support/images.ts";
import { GATEWAY_PKI } from "../cluster/gateway.ts";
import { kubectlJson } from "../cluster/kubectl.ts";
import { CLUSTER_INFO } from "../cluster/layout.ts";
import { HUB, LOCAL } from "../support.ts";
import { LoadGenerator, type LoadSummary, MAX_DURATION_MS, type ResponseRecord, summarize } from "./load.ts";

const info = existsSync(CLUSTER_INFO)
  ? (JSON.parse(readFileSync(CLUSTER_INFO, "utf8")) as { realGateway?: boolean })
  : {};
/** Whether `up` ran the real gateway on the hub. */
export const REAL_GATEWAY = LOCAL && info.realGateway === true;

/** dev's hostname (apps/argocd/clusters/in-cluster.yaml gateway_hostname). */
export const DEV_HOST = "wms.dev.example.com";
/** The photo every request sends: small, so that the model servers keep up on 2 cores. */
const PHOTO = { width: 96, height: 64 };
let photo: Buffer | undefined;

/** The Service Envoy Gateway made for Gateway gateway/wms (its owning-gateway labels). */
export function envoyService(): { ip: string; port: number } {
  const list = kubectlJson<{
    items: { spec: { clusterIP: string; ports: { port: number; name?: string }[] } }[];
  }>(HUB, [
    "-n",
    "envoy-gateway-system",
    "get",
    "services",
    "-l",
    "gateway.envoyproxy.io/owning-gateway-name=wms,gateway.envoyproxy.io/owning-gateway-namespace=gateway",
  ]);
  const svc = list.items[0];
  const port = svc?.spec.ports.find((p) => p.port === 443)?.port;
  if (!svc || !port) throw new Error("no Envoy Service for Gateway gateway/wms with port 443");
  return { ip: svc.spec.clusterIP, port };
}

/** A load generator aimed at dev's hostname through the gateway. */
export async function devTraffic(rate: number, durationMs: number): Promise<LoadGenerator> {
  photo ??= await jpegPhoto(PHOTO.width, PHOTO.height);
  const { ip, port } = envoyService();
  return new LoadGenerator(
    {
      url: `https://${ip}:${port}/predictions/wms`,
      host: DEV_HOST,
      ca: readFileSync(`${GATEWAY_PKI}/ca.crt`),
    },
    { rate, durationMs, body: photo, contentType: "image/jpeg", ...PHOTO },
  );
}

/** `n` requests at `rate` per second through the gateway, to completion. */
export async function load(n: number, rate: number): Promise<ResponseRecord[]> {
  return (await devTraffic(rate, Math.ceil((n / rate) * 1000))).start();
}

/**
 * Wait until Envoy answers dev's hostname with a 200. Right after `up` a scenario can start
 * before the gateway app's Envoy pods exist: in a fresh-clone run Envoy's Deployment was created
 * during scenario 3, which counted 57 failed requests. A scenario measures its delivery step,
 * not the bootstrap.
 */
export async function gatewayAnswers(timeoutMs = 600_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    try {
      const [r] = await load(1, 1);
      if (r?.status === 200) return;
      last = `status ${r?.status} ${r?.error ?? ""}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((res) => setTimeout(res, 2000));
  }
  throw new Error(
    `Envoy did not answer dev's hostname with a 200 within ${timeoutMs / 1000}s (last: ${last})`,
  );
}

/** What a scenario reports about the traffic that ran while it did. */
export interface TrafficReport {
  scenario: string;
  summary: LoadSummary;
  /** the failed requests themselves (status, error, when), for the assertion message */
  failures: ResponseRecord[];
  records: ResponseRecord[];
}

/** What a scenario's step may ask of the traffic running beside it. */
export interface Running {
  /** ms since the traffic started, on the clock of ResponseRecord.sentAt */
  elapsed(): number;
  /** Wait for `n` responses to requests sent at or after `fromMs`; their summary and failures. */
  collect(
    n: number,
    fromMs: number,
    timeoutMs?: number,
  ): Promise<LoadSummary & { failures: ResponseRecord[] }>;
  /** Wait until a 200 from `version` was sent at or after `fromMs`; returns when it was sent. */
  firstServedBy(version: string, fromMs: number, timeoutMs?: number): Promise<number>;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function running(gen: LoadGenerator): Running {
  const after = (fromMs: number) => gen.records.filter((r) => r.sentAt >= fromMs);
  return {
    elapsed: () => gen.elapsed(),
    async collect(n, fromMs, timeoutMs = 300_000) {
      const until = Date.now() + timeoutMs;
      while (after(fromMs).length < n) {
        if (Date.now() > until)
          throw new Error(
            `${after(fromMs).length} of ${n} responses after ${fromMs} ms within ${timeoutMs} ms`,
          );
        await pause(500);
      }
      const records = after(fromMs).slice(0, n);
      return { ...summarize(records), failures: records.filter((r) => r.status !== 200) };
    },
    async firstServedBy(version, fromMs, timeoutMs = 300_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = after(fromMs).find((r) => r.status === 200 && r.version === version);
        if (hit) return hit.sentAt;
        if (Date.now() > until)
          throw new Error(
            `no 200 from ${version} after ${fromMs} ms within ${timeoutMs} ms: ${JSON.stringify(summarize(after(fromMs)))}`,
          );
        await pause(500);
      }
    },
  };
}

/**
 * Run `step` while dev's hostname gets `rate` photos per second through the gateway; returns
 * step's result and every response (the caller asserts: zero failed requests, shares). Prints
 * one line per scenario: the numbers the issue asks the suite to print.
 */
export async function underTraffic<T>(
  scenario: string,
  step: (traffic: Running) => Promise<T>,
  // 1 photo/s: the model servers share this 2-core machine with two control planes, Argo CD and
  // Envoy; at 2/s under a concurrent test run they answered in up to 15 s (Envoy's 504)
  rate = 1,
): Promise<{ result: T; traffic: TrafficReport }> {
  await gatewayAnswers();
  const gen = await devTraffic(rate, MAX_DURATION_MS);
  const started = gen.start();
  let result: T;
  try {
    result = await step(running(gen));
  } finally {
    await gen.stop();
    await started;
  }
  const summary = gen.summary();
  const traffic = {
    scenario,
    summary,
    failures: gen.records.filter((r) => r.status !== 200),
    records: gen.records,
  };
  console.log(
    `traffic [${scenario}]: ${summary.total} requests, ${summary.failed} failed, by version ${JSON.stringify(summary.byVersion)}, invalid masks ${summary.invalidMasks}`,
  );
  return { result, traffic };
}
