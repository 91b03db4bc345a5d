/**
 * Judging a candidate (a shadow, or a canary, compared by mask too when the version file
 * names it as the shadow) against live from what Prometheus recorded:
 * the queries, the verdict with its table, and the version file the verdict leads to. Pure:
 * commands/analyze.ts runs the queries (prometheus.ts) and applies the result.
 *
 * Series are told apart by the labels the rendered ServiceMonitor copies onto them
 * (wms_example_environment, wms_example_model, app_kubernetes_io_version); the shadow's mask
 * agreement is measured by live's server (model/server/src/shadow.ts) and labelled with both
 * versions.
 */
import type { AnalysisThresholds, VersionFile } from "./config.ts";

export interface Candidate {
  kind: "canary" | "shadow";
  version: string;
  /** the canary's current weight */
  weight?: number;
  /** live's server compares its masks with this version's (a shadow always; a canary named as shadow too) */
  compared: boolean;
}

/** The canary if there is one (it carries user traffic), else the shadow. */
export function candidateOf(spec: VersionFile): Candidate | undefined {
  if (spec.canary) {
    const { version, weight } = spec.canary;
    return { kind: "canary", version, weight, compared: spec.shadow?.version === version };
  }
  if (spec.shadow) return { kind: "shadow", version: spec.shadow.version, compared: true };
  return undefined;
}

export interface Scope {
  env: string;
  model: string;
  live: string;
  candidate: Candidate;
  /** a Prometheus range, e.g. 30m */
  window: string;
  /** the candidate's namespace (render/names.ts versionNamespace): its Ready pods */
  candidateNamespace?: string;
  /** the model's routing namespace (render/names.ts routingNamespace): the gateway's view */
  routingNamespace?: string;
}

export type Query = keyof ReturnType<typeof queries>;

/** PromQL per measure; each answers one number (or nothing). */
export function queries(s: Scope) {
  const sel = (version: string) =>
    `wms_example_environment="${s.env}",wms_example_model="${s.model}",app_kubernetes_io_version="${version}"`;
  const predictions = `endpoint="/predictions/{model}"`;
  const w = s.window;
  const requests = (v: string) => `sum(increase(wms_http_requests_total{${sel(v)},${predictions}}[${w}]))`;
  const errors = (v: string) =>
    `sum(increase(wms_http_requests_total{${sel(v)},${predictions},code=~"5.."}[${w}]))`;
  const p95 = (v: string) =>
    `histogram_quantile(0.95, sum by (le) (rate(wms_http_request_duration_seconds_bucket{${sel(v)},${predictions},code="200"}[${w}])))`;
  const coverage = (v: string) =>
    `sum(rate(wms_mask_coverage_ratio_sum{${sel(v)}}[${w}])) / sum(rate(wms_mask_coverage_ratio_count{${sel(v)}}[${w}]))`;
  const pair = `${sel(s.live)},shadow_version="${s.candidate.version}"`;
  return {
    liveRequests: requests(s.live),
    liveErrors: errors(s.live),
    candidateRequests: requests(s.candidate.version),
    candidateErrors: errors(s.candidate.version),
    liveP95: p95(s.live),
    candidateP95: p95(s.candidate.version),
    liveCoverage: coverage(s.live),
    candidateCoverage: coverage(s.candidate.version),
    comparisons: `sum(increase(wms_shadow_agreement_iou_count{${pair}}[${w}]))`,
    agreementMedian: `histogram_quantile(0.5, sum by (le) (rate(wms_shadow_agreement_iou_bucket{${pair}}[${w}])))`,
    agreementP10: `histogram_quantile(0.1, sum by (le) (rate(wms_shadow_agreement_iou_bucket{${pair}}[${w}])))`,
    coverageDelta: `sum(rate(wms_shadow_coverage_delta_sum{${pair}}[${w}])) / sum(rate(wms_shadow_coverage_delta_count{${pair}}[${w}]))`,
    // The candidate's Ready pods now (kube-state-metrics, part of kube-prometheus-stack): none
    // means the gateway answers its share itself (503) and its own metrics stay silent.
    candidateReady: s.candidateNamespace
      ? `sum(kube_deployment_status_replicas_available{namespace="${s.candidateNamespace}",deployment="${s.model}"})`
      : "vector(-1) < 0",
    // The gateway's view of the model's weighted route (scraped by apps/gateway/podmonitor.yaml).
    // Envoy Gateway makes one Envoy cluster per route rule (envoy_cluster_name
    // "httproute/<namespace>/<route>/rule/<n>"), live and canary together, so these are the
    // whole split's answers: what Envoy answered itself (no healthy upstream, connect failures,
    // timeouts) is its 5xx beyond the servers' own.
    gatewayRequests: s.routingNamespace
      ? `sum(increase(envoy_cluster_upstream_rq_xx{${gatewayCluster(s)}}[${w}]))`
      : "vector(-1) < 0",
    gatewayErrors: s.routingNamespace
      ? `sum(increase(envoy_cluster_upstream_rq_xx{${gatewayCluster(s)},envoy_response_code_class="5"}[${w}]))`
      : "vector(-1) < 0",
    // Envoy's upstream request time is in milliseconds
    gatewayP95: s.routingNamespace
      ? `histogram_quantile(0.95, sum by (le) (rate(envoy_cluster_upstream_rq_time_bucket{${gatewayCluster(s)}}[${w}]))) / 1000`
      : "vector(-1) < 0",
  };
}

const gatewayCluster = (s: Scope) =>
  `envoy_cluster_name=~"httproute/${s.routingNamespace}/${s.model}/rule/[0-9]+"`;

/** Measures that only some installations answer (kube-state-metrics, the gateway's stats). */
type OptionalQuery = "candidateReady" | "gatewayRequests" | "gatewayErrors" | "gatewayP95";

/** What the queries answered; null (or absent) where Prometheus had no data. */
export type Measured = Record<Exclude<Query, OptionalQuery>, number | null> &
  Partial<Record<OptionalQuery, number | null>>;

/** A canary that answered less than this share of the requests its weight sends it fails. */
export const MIN_SHARE_ANSWERED = 0.5;

export type Verdict = "pass" | "fail" | "inconclusive";

export interface Row {
  metric: string;
  live: string;
  candidate: string;
  threshold: string;
  result: "pass" | "fail" | "-";
}

const fmt = (v: number | null, digits = 3) => (v === null || !Number.isFinite(v) ? "-" : v.toFixed(digits));
const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

export function judge(
  c: Candidate,
  m: Measured,
  t: AnalysisThresholds,
): { verdict: Verdict; rows: Row[]; samples: number } {
  const rows: Row[] = [];
  const check = (metric: string, live: string, candidate: string, threshold: string, ok: boolean | null) =>
    rows.push({ metric, live, candidate, threshold, result: ok === null ? "-" : ok ? "pass" : "fail" });
  const shadow = c.kind === "shadow";
  // a shadow is judged on the photos live's server compared; a canary on its own requests
  const samples = Math.round((shadow ? m.comparisons : m.candidateRequests) ?? 0);
  check(
    shadow ? "compared photos" : "candidate requests",
    shadow ? "-" : String(Math.round(m.liveRequests ?? 0)),
    String(samples),
    `>= ${t.minSamples}`,
    samples >= t.minSamples,
  );
  const errorRatio = ratio(m.candidateErrors ?? 0, m.candidateRequests);
  check(
    "error ratio (5xx)",
    fmt(ratio(m.liveErrors ?? 0, m.liveRequests), 4),
    fmt(errorRatio, 4),
    `<= ${t.maxErrorRatio}`,
    errorRatio === null ? null : errorRatio <= t.maxErrorRatio,
  );
  const latency = ratio(m.candidateP95, m.liveP95);
  check(
    "p95 latency (s), ratio",
    fmt(m.liveP95),
    `${fmt(m.candidateP95)} (${fmt(latency, 2)}x)`,
    `<= ${t.maxLatencyRatio}x`,
    latency === null ? null : latency <= t.maxLatencyRatio,
  );
  if (c.compared) {
    check(
      "mask agreement, median IoU",
      "-",
      fmt(m.agreementMedian),
      `>= ${t.minMedianAgreement}`,
      m.agreementMedian === null ? null : m.agreementMedian >= t.minMedianAgreement,
    );
    check(
      "mask agreement, p10 IoU",
      "-",
      fmt(m.agreementP10),
      `>= ${t.minP10Agreement}`,
      m.agreementP10 === null ? null : m.agreementP10 >= t.minP10Agreement,
    );
  }
  const drift = c.compared
    ? m.coverageDelta
    : m.candidateCoverage === null || m.liveCoverage === null
      ? null
      : m.candidateCoverage - m.liveCoverage;
  check(
    "coverage drift (candidate - live)",
    fmt(m.liveCoverage),
    `${fmt(m.candidateCoverage)} (${drift === null ? "-" : `${drift >= 0 ? "+" : ""}${drift.toFixed(3)}`})`,
    `|drift| <= ${t.maxCoverageDrift}`,
    drift === null ? null : Math.abs(drift) <= t.maxCoverageDrift,
  );
  // Failures that need no minimum of the candidate's own samples: a candidate that is down
  // answers nothing itself, so its own metrics can never become conclusive.
  const decisive: Row[] = [];
  const decide = (metric: string, live: string, candidate: string, threshold: string, ok: boolean | null) =>
    decisive.push({ metric, live, candidate, threshold, result: ok === null ? "-" : ok ? "pass" : "fail" });
  const ready = m.candidateReady ?? null;
  if (ready !== null) decide("candidate Ready pods", "-", String(Math.round(ready)), ">= 1", ready >= 1);
  if (c.kind === "canary" && c.weight && c.weight < 100 && m.liveRequests !== null) {
    // what its weight sent it, going by what live answered of the rest
    const expected = (m.liveRequests * c.weight) / (100 - c.weight);
    const got = m.candidateRequests ?? 0;
    decide(
      "candidate answered its share",
      String(Math.round(m.liveRequests)),
      `${Math.round(got)} of ~${Math.round(expected)}`,
      `>= ${MIN_SHARE_ANSWERED * 100}% of its share`,
      expected < t.minSamples ? null : got >= expected * MIN_SHARE_ANSWERED,
    );
  }
  const gwRequests = m.gatewayRequests ?? null;
  if (gwRequests !== null && gwRequests > 0) {
    // 5xx the gateway answered without a server's own 5xx behind them (attributed to the
    // candidate: live's own answers are measured above)
    const own = (m.liveErrors ?? 0) + (m.candidateErrors ?? 0);
    const excess = Math.max(0, (m.gatewayErrors ?? 0) - own) / gwRequests;
    decide(
      "gateway 5xx not from a server",
      "-",
      fmt(excess, 4),
      `<= ${t.maxErrorRatio}`,
      gwRequests < t.minSamples ? null : excess <= t.maxErrorRatio,
    );
    const gwP95 = m.gatewayP95 ?? null;
    const gwLatency = ratio(gwP95, m.liveP95);
    check(
      "gateway p95 latency (s), vs live's",
      fmt(m.liveP95),
      `${fmt(gwP95)} (${fmt(gwLatency, 2)}x)`,
      `<= ${t.maxLatencyRatio}x`,
      gwLatency === null ? null : gwLatency <= t.maxLatencyRatio,
    );
  }
  rows.push(...decisive);
  const [enough, ...measures] = rows;
  const verdict: Verdict = decisive.some((r) => r.result === "fail")
    ? "fail"
    : enough?.result !== "pass"
      ? "inconclusive"
      : measures.some((r) => r.result === "fail")
        ? "fail"
        : measures.every((r) => r.result === "-")
          ? "inconclusive"
          : "pass";
  return { verdict, rows, samples };
}

/**
 * The version file a verdict leads to: pass moves the candidate one step (shadow -> first
 * canary weight -> ... -> live, the previous live retained for rollback); fail removes it.
 */
export function afterVerdict(
  spec: VersionFile,
  c: Candidate,
  verdict: "pass" | "fail",
  steps: number[],
): { spec: VersionFile; action: string } {
  const next: VersionFile = structuredClone(spec);
  // a shadow that passes becomes the canary and stays compared (its shadow: entry names it still)
  if (next.shadow?.version === c.version && verdict === "fail") delete next.shadow;
  if (verdict === "fail") {
    if (c.kind === "canary") delete next.canary;
    return { spec: next, action: `remove ${c.kind} ${c.version}` };
  }
  const sorted = [...new Set(steps)].sort((a, b) => a - b);
  const weight = c.kind === "shadow" ? sorted[0] : sorted.find((w) => w > (c.weight ?? 0));
  if (weight !== undefined) {
    next.canary = { version: c.version, weight };
    return { spec: next, action: `${c.kind} ${c.version} -> canary at ${weight}%` };
  }
  const previous = next.live;
  next.live = c.version;
  delete next.canary;
  if (next.shadow?.version === c.version) delete next.shadow; // live does not compare with itself
  if (previous) next.retain = [...(next.retain ?? []).filter((v) => v !== previous), previous];
  return { spec: next, action: `promote ${c.version} to live (${previous ?? "none"} retained)` };
}

export function renderTable(rows: Row[]): string {
  const head: Row = {
    metric: "metric",
    live: "live",
    candidate: "candidate",
    threshold: "threshold",
    result: "-",
  };
  const all = [head, ...rows];
  const cols = ["metric", "live", "candidate", "threshold", "result"] as const;
  const width = cols.map((k) =>
    Math.max(...all.map((r) => (k === "result" && r === head ? 6 : r[k].length))),
  );
  return all
    .map((r) =>
      cols
        .map((k, i) => (k === "result" && r === head ? "result" : r[k]).padEnd(width[i] as number))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
