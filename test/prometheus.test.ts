/**
 * The monitoring path for real, on loopback: a real Prometheus (the release kube-prometheus-stack
 * deploys, built by scripts/setup-prometheus.sh) scrapes a real model server's metrics port with
 * the labels our ServiceMonitors attach, loads our rules, and answers the queries the dashboard
 * and alerts are built on.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { SERVER_NODE_FLAGS } from "../model/server/src/node-flags.ts";
import { jpegPhoto } from "../model/server/test/support/images.ts";
import { untrainedModel } from "../model/server/test/support/model.ts";
import { REPO_ROOT } from "./support/cli.ts";
import { prometheusTool } from "./support/prometheus-tools.ts";
import { freePort, until } from "./support/wait.ts";

const LABELS = {
  wms_example_environment: "dev",
  wms_example_model: "wms",
  app_kubernetes_io_version: "0.0.0-untrained",
};

describe("Prometheus scrapes the model server and evaluates our rules", () => {
  const procs: ChildProcess[] = [];
  let prom = "";
  let server = "";

  beforeAll(async () => {
    const files = await untrainedModel(256);
    const [http, metrics, promPort] = [await freePort(), await freePort(), await freePort()];
    procs.push(
      spawn(
        process.execPath,
        [
          ...SERVER_NODE_FLAGS, // as the Dockerfile starts it
          "--import",
          "tsx",
          join(REPO_ROOT, "model/server/src/cli.ts"),
          "serve",
          "--model",
          files.model,
          "--card",
          files.card,
          "--port",
          String(http),
          "--metrics-port",
          String(metrics),
          "--threads",
          "1",
        ],
        { cwd: REPO_ROOT, stdio: "ignore" },
      ),
    );
    server = `http://127.0.0.1:${http}`;
    const dir = mkdtempSync(join(tmpdir(), "wms-prom-"));
    const rule = parse(readFileSync(join(REPO_ROOT, "apps/monitoring/prometheusrule.wms.yaml"), "utf8"));
    writeFileSync(
      join(dir, "wms.rules.yaml"),
      stringify({ groups: rule.spec.groups.map((g: object) => ({ ...g, interval: "1s" })) }),
    );
    writeFileSync(
      join(dir, "prometheus.yml"),
      stringify({
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: [join(dir, "wms.rules.yaml")],
        // what the rendered ServiceMonitor does: scrape the metrics port, copy these labels
        scrape_configs: [
          {
            job_name: "wms",
            static_configs: [{ targets: [`127.0.0.1:${metrics}`], labels: { ...LABELS, pod: "wms-test" } }],
          },
        ],
      }),
    );
    procs.push(
      spawn(
        prometheusTool("prometheus"),
        [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: "ignore" },
      ),
    );
    prom = `http://127.0.0.1:${promPort}`;
    await until(
      "the model server",
      async () => ((await fetch(`${server}/ping`)).ok ? true : undefined),
      90_000,
    );
  }, 180_000);

  afterAll(() => {
    for (const p of procs) p.kill("SIGTERM");
  });

  const query = async (q: string) => {
    const r = (await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return r.data.result;
  };

  it("scrapes wms_model_loaded = 1 and the model info with the version labels", async () => {
    const loaded = await until("wms_model_loaded", async () => (await query("wms_model_loaded == 1"))[0]);
    expect(loaded.metric).toMatchObject(LABELS);
    const info = await until("wms_model_info", async () => (await query("wms_model_info"))[0]);
    expect(info.metric.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("counts predictions by code, and the recording rules turn them into per-version rates", {
    timeout: 150_000,
  }, async () => {
    const photo = await jpegPhoto(640, 480);
    const predict = async () => {
      const r = await fetch(`${server}/predictions/wms`, {
        method: "POST",
        body: photo,
        headers: { "content-type": "image/jpeg" },
      });
      expect(r.status).toBe(200);
    };
    // rate() needs the counter to grow between two scrapes: let Prometheus see the series
    // first, then add to it (a series first scraped at its final value has rate 0).
    await predict();
    await until(
      "the first 200 scraped",
      async () => (await query('wms_http_requests_total{endpoint="/predictions/{model}", code="200"}'))[0],
    );
    await predict();
    await predict();
    const bad = await fetch(`${server}/predictions/wms`, {
      method: "POST",
      body: Buffer.from("not an image"),
      headers: { "content-type": "image/jpeg" },
    });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    const ok = await until("200s counted", async () => {
      const [s] = await query('sum(wms_http_requests_total{endpoint="/predictions/{model}", code="200"})');
      return s && Number(s.value[1]) >= 3 ? s : undefined;
    });
    expect(Number(ok.value[1])).toBe(3);
    const rate = await until(
      "wms:requests:rate5m",
      async () => (await query('wms:requests:rate5m{code="200"}'))[0],
    );
    expect(rate.metric).toMatchObject(LABELS);
    // (NaN until the rate window holds two samples of a non-zero rate)
    const ratio = await until("wms:error_ratio:rate5m", async () =>
      (await query("wms:error_ratio:rate5m")).find((r) => !Number.isNaN(Number(r.value[1]))),
    );
    expect(Number(ratio.value[1])).toBe(0); // a 4xx is the client's fault, not an error of the version
  });

  it("loads all 11 rules healthy; the drift alert reacts to the untrained model's meaningless masks, nothing pages", async () => {
    const rules = await until("rules evaluated", async () => {
      const r = (await (await fetch(`${prom}/api/v1/rules`)).json()) as {
        data: { groups: { rules: { name: string; health: string; lastEvaluation: string }[] }[] };
      };
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length === 11 && all.every((x) => x.lastEvaluation !== "0001-01-01T00:00:00Z")
        ? all
        : undefined;
    });
    expect(rules.filter((r) => r.health !== "ok")).toEqual([]);
    // The untrained model paints most of the photo: median coverage far above the 2-10% a
    // counter window takes, which is exactly what WmsMaskCoverageDrift is for.
    const alerts = await until("the drift alert", async () => {
      const r = (await (await fetch(`${prom}/api/v1/alerts`)).json()) as {
        data: { alerts: { labels: Record<string, string>; state: string }[] };
      };
      return r.data.alerts.length ? r.data.alerts : undefined;
    });
    const drift = alerts.find((a) => a.labels.alertname === "WmsMaskCoverageDrift");
    expect(drift?.state).toBe("pending");
    expect(drift?.labels).toMatchObject(LABELS);
    // Nothing that pages: the server is up, loaded and answers without 5xx. (Latency alerts
    // depend on how loaded this machine is, so they are not judged here.)
    expect(alerts.filter((a) => a.labels.severity === "page")).toEqual([]);
  });
});
