/**
 * Monitoring as code, checked with the real promtool of the Prometheus kube-prometheus-stack
 * deploys (built by scripts/setup-prometheus.sh): the alert and recording rules pass
 * `promtool check rules` and their unit tests, and every PromQL query of the Grafana dashboard
 * parses.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { validateObjects } from "../generator/src/validate/index.ts";
import { REPO_ROOT } from "./support/cli.ts";
import { prometheusTool, wantedPrometheus } from "./support/prometheus-tools.ts";

const promtool = (...args: string[]) => spawnSync(prometheusTool("promtool"), args, { encoding: "utf8" });
const MON = join(REPO_ROOT, "apps/monitoring");
const rule = parse(readFileSync(join(MON, "prometheusrule.wms.yaml"), "utf8"));
const dashboardCm = parse(readFileSync(join(MON, "configmap.wms-dashboard.yaml"), "utf8"));

describe("monitoring as code", () => {
  it("promtool is the Prometheus 3 release kube-prometheus-stack deploys (scripts/setup-prometheus.sh)", () => {
    expect(wantedPrometheus()).toMatch(/^v3\./);
    const version = promtool("--version");
    expect(version.status).toBe(0);
    expect(version.stdout).toContain(`promtool, version ${wantedPrometheus().slice(1)} `);
  });

  it("the PrometheusRule and dashboard ConfigMap pass the upstream schemas", () => {
    expect(
      validateObjects([
        { file: "prometheusrule.wms.yaml", index: 0, object: rule },
        { file: "configmap.wms-dashboard.yaml", index: 0, object: dashboardCm },
      ]),
    ).toEqual([]);
  });

  it("rules pass promtool check and their unit tests (alerts fire when they should, and only then)", () => {
    const dir = mkdtempSync(join(tmpdir(), "wms-rules-"));
    writeFileSync(join(dir, "wms.rules.yaml"), stringify({ groups: rule.spec.groups }));
    copyFileSync(join(MON, "tests/wms.rules.test.yaml"), join(dir, "wms.rules.test.yaml"));
    const check = promtool("check", "rules", join(dir, "wms.rules.yaml"));
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS: 11 rules found/);
    const test = promtool("test", "rules", join(dir, "wms.rules.test.yaml"));
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toMatch(/SUCCESS/);

    // the tests can fail: break the error-ratio threshold and they must
    const broken = structuredClone(rule.spec.groups);
    broken[1].rules[0].expr = "wms:error_ratio:rate5m > 0.5";
    writeFileSync(join(dir, "wms.rules.yaml"), stringify({ groups: broken }));
    expect(promtool("test", "rules", join(dir, "wms.rules.test.yaml")).status).not.toBe(0);
  });

  it("every dashboard query parses as PromQL and uses only metrics the server or the rules export", () => {
    const dash = JSON.parse(dashboardCm.data["wms-model-versions.json"]);
    const exprs: string[] = dash.panels.flatMap((p: { targets: { expr: string }[] }) =>
      p.targets.map((t) => t.expr),
    );
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    const dir = mkdtempSync(join(tmpdir(), "wms-dash-"));
    const rules = {
      groups: [{ name: "dashboard", rules: exprs.map((expr, i) => ({ record: `dashboard:q${i}`, expr })) }],
    };
    writeFileSync(join(dir, "dash.rules.yaml"), stringify(rules));
    const check = promtool("check", "rules", join(dir, "dash.rules.yaml"));
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const recorded = new Set(rule.spec.groups[0].rules.map((r: { record: string }) => r.record));
    const serverMetrics = readFileSync(join(REPO_ROOT, "model/server/src/metrics.ts"), "utf8");
    // metric names only: drop label matchers and grouping clauses first
    const bare = exprs.map((e) => e.replace(/\{[^}]*\}/g, "").replace(/\b(by|on) \([^)]*\)/g, ""));
    for (const name of new Set(bare.flatMap((e) => e.match(/\bwms[:_][a-z0-9_:]+/g) ?? []))) {
      const base = name.replace(/_(bucket|count|sum)$/, "");
      expect(recorded.has(name) || serverMetrics.includes(`"${base}"`), name).toBe(true);
    }
  });
});
