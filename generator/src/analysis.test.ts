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
    expect(r.rows.at(-1)?.candidate).toBe("0.052 (+0.002)"); // coverage drift from both servers
    expect(judge({ ...canary, compared: true }, healthy, T).rows.map((x) => x.metric)).toContain(
      "mask agreement, median IoU",
    );
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
});
