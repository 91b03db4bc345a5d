/** Instant queries against Prometheus's HTTP API; the one place the generator talks to it. */
import { WmsError } from "./errors.ts";

/**
 * The query's one number at `time` (now when absent), or null when it has no data (no
 * series, NaN). A failure to reach Prometheus, or a query it refuses, is an error.
 */
export async function queryNumber(url: string, query: string, timeoutMs = 10_000): Promise<number | null> {
  const at = `${url.replace(/\/+$/, "")}/api/v1/query?query=${encodeURIComponent(query)}`;
  let body: {
    status?: string;
    error?: string;
    data?: { resultType?: string; result?: { value?: [number, string] }[] };
  };
  try {
    const res = await fetch(at, { signal: AbortSignal.timeout(timeoutMs) });
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw unavailable(url, (e as Error).message);
  }
  if (body.status !== "success") throw unavailable(url, `refused ${query}: ${body.error ?? "no status"}`);
  const first = body.data?.result?.[0]?.value?.[1];
  const n = first === undefined ? Number.NaN : Number(first);
  return Number.isFinite(n) ? n : null;
}

function unavailable(url: string, why: string): WmsError {
  return new WmsError("unavailable", [
    {
      message: `Prometheus at ${url}: ${why}`,
      hint: "pass --prometheus <url> (in-cluster: the kube-prometheus-stack Service in monitoring; from a laptop: kubectl -n monitoring port-forward svc/kube-prometheus-stack-prometheus 9090)",
    },
  ]);
}
