import { describe, expect, it } from "vitest";
import { afterVerdict, type Candidate, candidateOf, judge, type Measured, queries } from "./analysis.ts";
import type { AnalysisThresholds } from "./config.ts";

const T: AnalysisThresholds = {
  minSamples: 50,
  maxErrorRatio: 0.01,
  maxLatencyRatio: 1.25,
  minMedianAgreement: 0.9,
  minP10Agreement: 0.5,
  maxCoverageDrift: 0.05,
  steps: [10, 50],
};

const healthy: Measured = {
  liveRequests: 1000,
  liveErrors: 0,
  candidateRequests: 200,
  candidateErrors: 0,
  liveP95: 0.4,
  candidateP95: 0.42,
  liveCoverage: 0.05,
  candidateCoverage: 0.052,
  comparisons: 120,
  agreementMedian: 0.96,
  agreementP10: 0.88,
  coverageDelta: 0.002,
};

describe("candidateOf", () => {
  it("prefers the canary (it has user traffic), compared when the shadow names it", () => {
    expect(candidateOf({ model: "wms", live: "1.0.0", shadow: { version: "1.1.0" } })).toEqual({
      kind: "shadow",
      version: "1.1.0",
      compared: true,
    });
    expect(
      candidateOf({
        model: "wms",
        live: "1.0.0",
        canary: { version: "1.1.0", weight: 10 },
        shadow: { version: "1.1.0" },
      }),
    ).toEqual({ kind: "canary", version: "1.1.0", weight: 10, compared: true });
    expect(
      candidateOf({ model: "wms", live: "1.0.0", canary: { version: "1.1.0", weight: 10 } })?.compared,
    ).toBe(false);
    expect(candidateOf({ model: "wms", live: "1.0.0" })).toBeUndefined();
  });
});

describe("judge", () => {
  const shadow: Candidate = { kind: "shadow", version: "1.1.0", compared: true };
  it("passes a healthy shadow and counts its comparisons as the samples", () => {
    const r = judge(shadow, healthy, T);
    expect(r.verdict).toBe("pass");
    expect(r.samples).toBe(120);
    expect(r.rows.map((x) => x.result)).toEqual(["pass", "pass", "pass", "pass", "pass", "pass"]);
  });
  it("fails on any one measure", () => {
    expect(judge(shadow, { ...healthy, agreementMedian: 0.7 }, T).verdict).toBe("fail");
    expect(judge(shadow, { ...healthy, candidateErrors: 10 }, T).verdict).toBe("fail"); // 5%
    expect(judge(shadow, { ...healthy, candidateP95: 0.6 }, T).verdict).toBe("fail"); // 1.5x
    expect(judge(shadow, { ...healthy, coverageDelta: -0.08 }, T).verdict).toBe("fail");
  });
  it("is inconclusive on too few samples, or with no data at all", () => {
    expect(judge(shadow, { ...healthy, comparisons: 10 }, T).verdict).toBe("inconclusive");
    const none = Object.fromEntries(Object.keys(healthy).map((k) => [k, null])) as Measured;
    expect(judge(shadow, none, T).verdict).toBe("inconclusive");
  });
  it("judges a canary on its own requests; mask rows only when it is compared", () => {
    const canary: Candidate = { kind: "canary", version: "1.1.0", weight: 10, compared: false };
    const r = judge(canary, { ...healthy, comparisons: null, agreementMedian: null }, T);
    expect(r.samples).toBe(200);
    expect(r.rows.map((x) => x.metric)).not.toContain("mask agreement, median IoU");
    // coverage drift from both servers
    expect(r.rows.find((x) => x.metric.startsWith("coverage drift"))?.candidate).toBe("0.052 (+0.002)");
    expect(r.rows.find((x) => x.metric === "candidate answered its share")).toMatchObject({
      candidate: "200 of ~111",
      result: "pass",
    });
    expect(r.verdict).toBe("pass");
    expect(judge({ ...canary, compared: true }, healthy, T).rows.map((x) => x.metric)).toContain(
      "mask agreement, median IoU",
    );
  });
});

describe("judge: a candidate that is down fails, however few its own samples", () => {
  const canary: Candidate = { kind: "canary", version: "1.1.0", weight: 20, compared: false };
  const silent: Measured = {
    ...healthy,
    candidateRequests: null,
    candidateErrors: null,
    candidateP95: null,
    candidateCoverage: null,
    comparisons: null,
    agreementMedian: null,
    agreementP10: null,
    coverageDelta: null,
  };
  it("a canary that answered none of its share fails (was: inconclusive forever)", () => {
    const r = judge(canary, silent, T);
    expect(r.verdict).toBe("fail");
    expect(r.rows.find((x) => x.metric === "candidate answered its share")).toMatchObject({
      candidate: "0 of ~250",
      result: "fail",
    });
  });
  it("no Ready pods (kube-state-metrics) fails a shadow or a canary", () => {
    const shadow: Candidate = { kind: "shadow", version: "1.1.0", compared: true };
    expect(judge(shadow, { ...silent, candidateReady: 0 }, T).verdict).toBe("fail");
    expect(judge(shadow, { ...silent, candidateReady: 2 }, T).verdict).toBe("inconclusive");
  });
  it("5xx the gateway answered itself (beyond the servers' own) fail the canary", () => {
    const through = { ...healthy, gatewayRequests: 1200, gatewayP95: 0.45 };
    expect(judge(canary, { ...through, gatewayErrors: 0 }, T).verdict).toBe("pass");
    const r = judge(canary, { ...through, gatewayErrors: 240 }, T);
    expect(r.verdict).toBe("fail");
    expect(r.rows.find((x) => x.metric === "gateway 5xx not from a server")).toMatchObject({
      candidate: "0.2000",
      result: "fail",
    });
  });
  it("too little live traffic to expect anything of the canary stays inconclusive", () => {
    const r = judge(canary, { ...silent, liveRequests: 40 }, T);
    expect(r.verdict).toBe("inconclusive");
  });
});

describe("afterVerdict", () => {
  const base = { model: "wms", live: "1.0.0", retain: ["0.9.0"] };
  it("walks shadow -> canary 10 -> 50 -> live, keeping the comparison until live", () => {
    const s1 = { ...base, shadow: { version: "1.1.0", sample: 0.2 } };
    const a = afterVerdict(s1, candidateOf(s1) as Candidate, "pass", T.steps);
    expect(a.spec).toEqual({
      ...base,
      canary: { version: "1.1.0", weight: 10 },
      shadow: { version: "1.1.0", sample: 0.2 },
    });
    const b = afterVerdict(a.spec, candidateOf(a.spec) as Candidate, "pass", T.steps);
    expect(b.spec.canary).toEqual({ version: "1.1.0", weight: 50 });
    const c = afterVerdict(b.spec, candidateOf(b.spec) as Candidate, "pass", T.steps);
    expect(c.spec).toEqual({ model: "wms", live: "1.1.0", retain: ["0.9.0", "1.0.0"] });
    expect(c.action).toBe("promote 1.1.0 to live (1.0.0 retained)");
  });
  it("removes a failing candidate, and its comparison with it", () => {
    const s = { ...base, canary: { version: "1.1.0", weight: 10 }, shadow: { version: "1.1.0" } };
    expect(afterVerdict(s, candidateOf(s) as Candidate, "fail", T.steps).spec).toEqual(base);
    const sh = { ...base, shadow: { version: "1.1.0" } };
    expect(afterVerdict(sh, candidateOf(sh) as Candidate, "fail", T.steps)).toEqual({
      spec: base,
      action: "remove shadow 1.1.0",
    });
  });
});

describe("queries", () => {
  it("select by the labels the ServiceMonitor copies, and the pair for agreement", () => {
    const q = queries({
      env: "prod",
      model: "wms",
      live: "1.0.0",
      candidate: { kind: "shadow", version: "1.1.0", compared: true },
      window: "30m",
    });
    expect(q.candidateErrors).toBe(
      'sum(increase(wms_http_requests_total{wms_example_environment="prod",wms_example_model="wms",app_kubernetes_io_version="1.1.0",endpoint="/predictions/{model}",code=~"5.."}[30m]))',
    );
    expect(q.agreementP10).toContain('app_kubernetes_io_version="1.0.0",shadow_version="1.1.0"');
  });
  it("read the gateway's cluster of the model's route (Envoy Gateway: one per rule) and the candidate's Ready pods", () => {
    const q = queries({
      env: "prod",
      model: "wms",
      live: "1.0.0",
      candidate: { kind: "canary", version: "1.1.0", weight: 10, compared: false },
      window: "30m",
      candidateNamespace: "prod-wms-1-1-0",
      routingNamespace: "prod-wms-routing",
    });
    expect(q.gatewayErrors).toBe(
      'sum(increase(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"httproute/prod-wms-routing/wms/rule/[0-9]+",envoy_response_code_class="5"}[30m]))',
    );
    expect(q.gatewayP95).toMatch(
      /^histogram_quantile\(0\.95, sum by \(le\) \(rate\(envoy_cluster_upstream_rq_time_bucket\{/,
    );
    expect(q.candidateReady).toBe(
      'sum(kube_deployment_status_replicas_available{namespace="prod-wms-1-1-0",deployment="wms"})',
    );
  });
});
