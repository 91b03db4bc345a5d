/**
 * `gen analyze` against real processes: four model servers (dev: 1.1.0 live shadowed by 1.0.0;
 * qa: 1.1.0 live shadowed by the untrained example, published as 1.2.0), a real Prometheus
 * scraping them with the labels the rendered ServiceMonitor copies, dataset photos through
 * the live servers; then the verdicts, and --commit in a temp git repository.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { SERVER_NODE_FLAGS } from "../../model/server/src/node-flags.ts";
import {
  datasetImages,
  datasetUnavailable,
  modelUnavailable,
  shippedReleaseModels,
  untrainedModel,
} from "../../model/server/test/support/model.ts";
import { fixtureCopy, REPO_ROOT, runCli } from "../support/cli.ts";
import { git, gitEnv } from "../support/git.ts";
import { prometheusTool } from "../support/prometheus-tools.ts";
import { freePort, until } from "../support/wait.ts";

const release = (v: string) => shippedReleaseModels().find((r) => basename(r.dir) === v);
const skip =
  modelUnavailable() ??
  datasetUnavailable() ??
  (release("1.0.0") && release("1.1.0") ? null : "releases 1.0.0 and 1.1.0 with model.onnx not found");
if (skip) console.warn(`SKIP analyze tests: ${skip}`);

/** thresholds for this small sample (the schema's defaults are for production traffic) */
const ANALYSIS = {
  minSamples: 8,
  maxErrorRatio: 0.01,
  maxLatencyRatio: 4,
  minMedianAgreement: 0.5,
  minP10Agreement: 0.1,
  maxCoverageDrift: 0.3,
  steps: [10, 50],
};

describe.skipIf(skip !== null)("gen analyze against a real Prometheus", () => {
  const procs: ChildProcess[] = [];
  let root = "";
  let prom = "";
  const lives: Record<string, string> = {};
  const liveMetrics: Record<string, string> = {};
  const cli = (...args: string[]) => runCli([...args, "--root", root], { env: gitEnv });

  /** a model server process with a metrics port; resolves with both ports */
  const serve = async (model: string, card: string, extra: string[] = []) => {
    const [http, metrics] = [await freePort(), await freePort()];
    const p = spawn(
      process.execPath,
      [
        ...SERVER_NODE_FLAGS, // as the Dockerfile starts it
        "--import",
        "tsx",
        join(REPO_ROOT, "model/server/src/cli.ts"),
        "serve",
        ...["--model", model, "--card", card, "--threads", "1", "--host", "127.0.0.1"],
        ...["--port", String(http), "--metrics-port", String(metrics), ...extra],
      ],
      { cwd: REPO_ROOT, stdio: "ignore" },
    );
    procs.push(p);
    return { url: `http://127.0.0.1:${http}`, metrics: `127.0.0.1:${metrics}` };
  };

  beforeAll(async () => {
    const work = mkdtempSync(join(tmpdir(), "wms-analyze-"));
    // the untrained example, carded as 1.2.0: the version its answers name (x-model-version)
    const untrained = await untrainedModel();
    const card = JSON.parse(readFileSync(untrained.card, "utf8"));
    writeFileSync(join(work, "untrained-1.2.0.json"), JSON.stringify({ ...card, version: "1.2.0" }));
    const v100 = release("1.0.0");
    const v110 = release("1.1.0");
    if (!v100 || !v110) throw new Error("releases missing");
    const devShadow = await serve(v100.model, v100.card);
    const qaShadow = await serve(untrained.model, join(work, "untrained-1.2.0.json"));
    // every copy compared, however busy the machine: the defaults (2 s, 4 in flight) would
    // drop or time out copies while the rest of the suite shares the 2 cores
    const shadowArgs = (url: string) => [
      ...["--shadow", url, "--shadow-sample", "1"],
      ...["--shadow-timeout-ms", "120000", "--shadow-max-in-flight", "16"],
    ];
    const devLive = await serve(v110.model, v110.card, shadowArgs(devShadow.url));
    const qaLive = await serve(v110.model, v110.card, shadowArgs(qaShadow.url));
    lives.dev = devLive.url;
    lives.qa = qaLive.url;
    liveMetrics.dev = devLive.metrics;
    liveMetrics.qa = qaLive.metrics;
    const target = (env: string, version: string, t: { metrics: string }) => ({
      targets: [t.metrics],
      labels: { wms_example_environment: env, wms_example_model: "wms", app_kubernetes_io_version: version },
    });
    writeFileSync(
      join(work, "prometheus.yml"),
      stringify({
        global: { scrape_interval: "1s" },
        scrape_configs: [
          {
            job_name: "wms",
            static_configs: [
              target("dev", "1.1.0", devLive),
              target("dev", "1.0.0", devShadow),
              target("qa", "1.1.0", qaLive),
              target("qa", "1.2.0", qaShadow),
              // cx: dev's live server again, as live of an environment whose canary never came
              // up (no server, no series: behind a gateway its share would be Envoy's 503s)
              target("cx", "1.1.0", devLive),
            ],
          },
        ],
      }),
    );
    const promPort = await freePort();
    procs.push(
      spawn(
        prometheusTool("prometheus"),
        [
          `--config.file=${join(work, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(work, "data")}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: "ignore" },
      ),
    );
    prom = `http://127.0.0.1:${promPort}`;

    // the repository: dev and qa each run 1.1.0 live with a shadow
    root = fixtureCopy("basic");
    const devEnv = parse(readFileSync(join(root, "environments/dev/environment.yaml"), "utf8"));
    const write = (env: string, config: object, version: string) => {
      execFileSync("mkdir", ["-p", join(root, "environments", env)]);
      writeFileSync(join(root, "environments", env, "environment.yaml"), stringify(config));
      writeFileSync(
        join(root, "environments", env, "wms.yaml"),
        `model: wms\nlive: 1.1.0\nshadow: { version: ${version}, sample: 1 }\n`,
      );
    };
    write("dev", { ...devEnv, analysis: ANALYSIS }, "1.0.0");
    write("qa", { ...devEnv, name: "qa", namespacePrefix: "qa", analysis: ANALYSIS }, "1.2.0");
    write("cx", { ...devEnv, name: "cx", namespacePrefix: "cx", analysis: ANALYSIS }, "1.2.0");
    writeFileSync(
      join(root, "environments/cx/wms.yaml"),
      "model: wms\nlive: 1.1.0\ncanary: { version: 1.2.0, weight: 50 }\n",
    );
    git(root, "init", "-q", "-b", "main");
    const r = cli("render");
    expect(r.code, r.stderr).toBe(0);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "initial");

    const query = async (q: string) =>
      (
        (await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as {
          data: { result: { value: [number, string] }[] };
        }
      ).data.result;
    await until(
      "four model servers ready and scraped (dev's live twice)",
      async () => ((await query("sum(wms_model_loaded)"))[0]?.value[1] === "5" ? true : undefined),
      150_000,
    );
  }, 240_000);

  afterAll(() => {
    for (const p of procs) p.kill("SIGKILL");
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("is inconclusive (exit 3) while no photo has been compared", () => {
    const r = cli("analyze", "--env", "dev", "--prometheus", prom, "--window", "10m");
    expect(r.stdout).toMatch(/compared photos\s+-\s+0\s+>= 8\s+fail/);
    expect(r.stdout).toMatch(/verdict: inconclusive/);
    expect(r.code).toBe(3);
  });

  it("says which Prometheus did not answer (exit 5)", () => {
    const r = cli("analyze", "--env", "dev", "--prometheus", "http://127.0.0.1:9", "--window", "10m");
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Error: Prometheus at http:\/\/127\.0\.0\.1:9: /);
  });

  // 24 predictions through two live servers while their shadows infer the copies, on 2 cores
  // shared with the rest of the suite: minutes when the machine is busy
  it("passes 1.0.0 shadowing 1.1.0 and fails the untrained shadow, on the same photos", {
    timeout: 300_000,
  }, async () => {
    const photos = datasetImages()
      .slice(0, 12)
      .map((f) => readFileSync(f));
    const send = async (url: string) => {
      for (const photo of photos) {
        const res = await fetch(`${url}/predictions/wms`, { method: "POST", body: photo });
        await res.arrayBuffer();
        expect(res.status).toBe(200);
      }
    };
    await Promise.all([send(lives.dev as string), send(lives.qa as string)]);
    // every copy answered by the shadow: the live server's own counters, by result
    for (const env of ["dev", "qa"]) {
      const counts = await until(
        `${env}: all 12 copies settled at the live server`,
        async () => {
          const text = await (await fetch(`http://${liveMetrics[env]}/metrics`)).text();
          const counts: Record<string, number> = Object.fromEntries(
            [...text.matchAll(/^wms_shadow_requests_total\{[^}]*result="(\w+)"[^}]*\} (\d+)/gm)].map((m) => [
              m[1],
              Number(m[2]),
            ]),
          );
          const settled = Object.values(counts).reduce((a, b) => a + b, 0);
          return settled < photos.length ? undefined : counts;
        },
        180_000,
      );
      expect(counts, `${env} shadow results`).toEqual({ compared: photos.length });
    }
    // and scraped (a few scrapes, so that rate() has two points)
    for (const env of ["dev", "qa"]) {
      await until(
        `${env}: the comparisons scraped`,
        async () => {
          const r = cli("analyze", "--env", env, "--prometheus", prom, "--window", "10m");
          const n = Number(/compared photos\s+-\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
          return n >= 10 ? true : undefined; // increase() misses a new series' first count
        },
        120_000,
      );
    }
    const dev = cli("analyze", "--env", "dev", "--prometheus", prom, "--window", "10m");
    console.log(dev.stdout);
    expect(dev.stdout).toMatch(/dev wms: shadow 1\.0\.0 vs live 1\.1\.0, last 10m/);
    expect(dev.stdout).toMatch(/mask agreement, median IoU\s+-\s+0\.\d+\s+>= 0\.5\s+pass/);
    expect(dev.stdout).toMatch(/verdict: pass/);
    expect(dev.code).toBe(0);

    const qa = cli("analyze", "--env", "qa", "--prometheus", prom, "--window", "10m");
    console.log(qa.stdout);
    expect(qa.stdout).toMatch(/mask agreement, median IoU\s+-\s+0\.\d+\s+>= 0\.5\s+fail/);
    expect(qa.stdout).toMatch(/verdict: fail/);
    expect(qa.code).toBe(1);
  });

  it("fails a canary that answered none of its share (no Ready pods), instead of staying inconclusive", () => {
    const r = cli("analyze", "--env", "cx", "--prometheus", prom, "--window", "10m");
    console.log(r.stdout);
    expect(r.stdout).toMatch(/cx wms: canary 1\.2\.0 @50% vs live 1\.1\.0/);
    expect(r.stdout).toMatch(/candidate answered its share\s+\d+\s+0 of ~\d+\s+>= 50% of its share\s+fail/);
    expect(r.stdout).toMatch(/verdict: fail/);
    expect(r.code).toBe(1);
  });

  // five CLI runs, each rendering: minutes on 2 busy cores
  it("--commit lands each verdict as a rendered deploy commit with the table", { timeout: 300_000 }, () => {
    const dev = cli("analyze", "--env", "dev", "--prometheus", prom, "--window", "10m", "--commit");
    expect(dev.code, dev.stderr).toBe(0);
    expect(parse(readFileSync(join(root, "environments/dev/wms.yaml"), "utf8"))).toEqual({
      model: "wms",
      live: "1.1.0",
      canary: { version: "1.0.0", weight: 10 },
      shadow: { version: "1.0.0", sample: 1 }, // the canary stays compared
    });
    // and is judged on mask agreement too: live still copies photos to it
    const args: string[] = parse(
      readFileSync(join(root, "environments/dev/rendered/wms-1.1.0/deployment.wms.yaml"), "utf8"),
    ).spec.template.spec.containers[0].args;
    expect(args).toContain("--shadow");
    const devMsg = git(root, "log", "-1", "--format=%B");
    expect(devMsg).toMatch(/^analyze\(dev\): wms pass: shadow 1\.0\.0 -> canary at 10%/);
    expect(devMsg).toMatch(/mask agreement, median IoU/);
    expect(git(root, "log", "-1", "--format=%(trailers:key=Wms-Deploy,valueonly)").trim()).toBe("dev");
    // two more passes: 10% -> 50% -> live (the same recorded traffic judges each step here)
    for (const step of [/canary 1\.0\.0 -> canary at 50%/, /promote 1\.0\.0 to live \(1\.1\.0 retained\)/]) {
      const r = cli("analyze", "--env", "dev", "--prometheus", prom, "--window", "10m", "--commit");
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(git(root, "log", "-1", "--format=%s")).toMatch(step);
    }
    expect(parse(readFileSync(join(root, "environments/dev/wms.yaml"), "utf8"))).toEqual({
      model: "wms",
      live: "1.0.0",
      retain: ["1.1.0"],
    });

    const qa = cli("analyze", "--env", "qa", "--prometheus", prom, "--window", "10m", "--commit");
    expect(qa.code).toBe(1);
    expect(parse(readFileSync(join(root, "environments/qa/wms.yaml"), "utf8"))).toEqual({
      model: "wms",
      live: "1.1.0",
    });
    expect(git(root, "log", "-1", "--format=%s")).toMatch(/^analyze\(qa\): wms fail: remove shadow 1\.2\.0/);
    expect(git(root, "status", "--porcelain")).toBe("");
    const check = cli("render", "--check");
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });
});
