/**
 * npm run bench:server [-- --model latest | <path/to/model.onnx> | untrained [--size 512]]
 *                      [-- --requests 24 --levels 1,2,4,8 --photos 16 --no-torchserve]
 *
 * Over HTTP on 127.0.0.1 with real dataset photos, at each concurrency level: this server
 * (a child process, `cli.ts serve`), beside the bare ONNX Runtime session on the same
 * preprocessed tensors (no HTTP, no pre/postprocessing), and TorchServe 0.12 serving the same
 * weights (eager PyTorch, rebuilt and checked against the ONNX file) with training's own
 * preprocessing. Prints throughput, p50/p95/p99 latency and peak RSS, the model's FLOPs per
 * image and how close the bare session gets to this CPU's peak.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import { Worker } from "node:worker_threads";
import ort from "onnxruntime-node";
import sharp from "sharp";
import { decodeForModel, decodeImage } from "../src/model/decode.ts";
import { encodeMaskPng, postprocess } from "../src/model/postprocess.ts";
import { normalizeToChw, type PreprocessSpec, preprocess, resizeRgb } from "../src/model/preprocess.ts";
import { SERVER_NODE_FLAGS } from "../src/node-flags.ts";
import {
  datasetImages,
  datasetUnavailable,
  newestShippedRelease,
  PYTHON,
  REPO_ROOT,
  TRAINING_DIR,
  untrainedModel,
} from "../test/support/model.ts";
import { ceilings, type StageWork } from "./bounds.ts";
import { type CpuTicks, isaLabel, parseCpuinfo, parseProcStat, peaksOf, quietLabel } from "./machine.ts";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const VENV_BIN = join(REPO_ROOT, ".venv/bin");
const BENCH_PY = join(REPO_ROOT, "model/server/bench/py");

const { values: args } = parseArgs({
  options: {
    // "latest": the newest release the repo ships (model/releases/*/<version>/model.onnx); a path
    // to a release's model.onnx (its model-card.json beside it); "untrained": the seeded example
    model: { type: "string", default: "latest" },
    size: { type: "string", default: "512" },
    requests: { type: "string", default: "24" },
    levels: { type: "string", default: "1,2,4,8" },
    photos: { type: "string", default: "16" },
    threads: { type: "string", default: String(cpus().length) },
    // the server's --instances values to run (default: 1, and one per thread); with more than
    // one, the bench also runs that many bare 1-thread sessions side by side
    instances: { type: "string" },
    "no-torchserve": { type: "boolean", default: false },
    // also run the server with --shadow (every answer copied) against a responder that answers
    // from memory: what shadowing costs the live path itself (the shadow's own inference runs
    // in another pod in a cluster; here it would only take these cores from live)
    shadow: { type: "boolean", default: false },
    // skip the int8 rows (they run when the release's card lists variants.int8 and its
    // model.int8.onnx is beside model.onnx)
    "no-int8": { type: "boolean", default: false },
  },
});
const RELEASE =
  args.model !== "untrained"
    ? (() => {
        const model = resolve(args.model === "latest" ? newestShippedRelease() : (args.model as string));
        const card = join(dirname(model), "model-card.json");
        const c = JSON.parse(readFileSync(card, "utf8"));
        const [, , h, w] = c.io.input.shape as number[];
        if (h !== w) throw new Error(`${card}: the bench assumes a square input, not ${w}x${h}`);
        const test = c.metrics?.test;
        const what = `${c.name} ${c.version} (trained; test IoU ${test?.iou?.toFixed(4)} / Dice ${test?.dice?.toFixed(4)})`;
        const int8 = c.variants?.int8 ? join(dirname(model), "model.int8.onnx") : undefined;
        return { model, card, size: h as number, what, int8: int8 && existsSync(int8) ? int8 : undefined };
      })()
    : undefined;
const SIZE = RELEASE?.size ?? Number(args.size);
const REQUESTS = Number(args.requests);
const LEVELS = (args.levels as string).split(",").map(Number);
const THREADS = Number(args.threads);
const INSTANCES = [
  ...new Set(args.instances ? (args.instances as string).split(",").map(Number) : [1, THREADS]),
];
if (INSTANCES.some((n) => !Number.isInteger(n) || n < 1 || n > THREADS))
  throw new Error(`--instances ${args.instances}: each must be an integer from 1 to --threads (${THREADS})`);

interface Row {
  system: string;
  concurrency: number | string;
  requests: number;
  errors: number;
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  peakRssMiB: number | null;
}

const rows: Row[] = [];
const notes: string[] = [];

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

function summarise(
  system: string,
  concurrency: number | string,
  lat: number[],
  wallMs: number,
  errors: number,
  rss: number | null,
): Row {
  const s = [...lat].sort((a, b) => a - b);
  const row = {
    system,
    concurrency,
    requests: lat.length,
    errors,
    throughput: (lat.length / wallMs) * 1000,
    p50: quantile(s, 0.5),
    p95: quantile(s, 0.95),
    p99: quantile(s, 0.99),
    peakRssMiB: rss,
  };
  rows.push(row);
  console.error(
    `  ${system} c=${concurrency}: ${row.throughput.toFixed(2)} img/s, p50 ${row.p50.toFixed(0)} ms, errors ${errors}`,
  );
  return row;
}

/** Closed loop: `concurrency` clients, each sending the next photo as soon as its last answer is in. */
async function drive(url: string, photos: Buffer[], concurrency: number, n: number) {
  const post = async (i: number) => {
    const t0 = performance.now();
    const res = await fetch(url, {
      method: "POST",
      body: photos[i % photos.length],
      headers: { "content-type": "image/jpeg" },
    });
    await res.arrayBuffer();
    return { ms: performance.now() - t0, ok: res.status === 200 };
  };
  // warm-up: one request per client, not measured
  await Promise.all(Array.from({ length: concurrency }, (_, i) => post(i)));
  let next = 0;
  let errors = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const r = await post(i);
        if (r.ok) lat.push(r.ms);
        else errors++;
      }
    }),
  );
  return { lat, wallMs: performance.now() - t0, errors };
}

/** Peak resident set (VmHWM) of a process and all its descendants, in MiB. */
function peakRssMiB(rootPid: number): number {
  const children = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {}
  }
  let kb = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop() as number;
    try {
      kb += Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {}
    stack.push(...(children.get(pid) ?? []));
  }
  return kb / 1024;
}

async function waitFor(url: string, proc: ChildProcess, seconds: number, log: () => string) {
  for (let i = 0; i < seconds * 5; i++) {
    if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${log().slice(-2000)}`);
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(200);
  }
  throw new Error(`${url} not healthy after ${seconds} s: ${log().slice(-2000)}`);
}

/** Start in its own process group, so that stopping it stops everything it started. */
function start(cmd: string, argv: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const proc = spawn(cmd, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  proc.stdout?.on("data", (d) => {
    log = (log + d).slice(-20_000);
  });
  proc.stderr?.on("data", (d) => {
    log = (log + d).slice(-20_000);
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.pid === undefined) return;
    const exited = new Promise((r) => proc.once("exit", r));
    process.kill(-proc.pid, "SIGTERM");
    await Promise.race([exited, sleep(10_000)]);
    if (proc.exitCode === null) process.kill(-proc.pid, "SIGKILL");
  };
  return { proc, stop, log: () => log };
}

async function maskIou(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((p) => sharp(p).extractChannel(0).raw().toBuffer()));
  if (!x || !y || x.length !== y.length) return Number.NaN;
  let inter = 0;
  let union = 0;
  for (let i = 0; i < x.length; i++) {
    const p = (x[i] as number) >= 127;
    const q = (y[i] as number) >= 127;
    if (p && q) inter++;
    if (p || q) union++;
  }
  return union === 0 ? 1 : inter / union;
}

async function benchBare(
  modelPath: string,
  tensors: Float32Array[],
  spinning: boolean,
  when: string,
  precision = "fp32",
) {
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    // the server's options (lifecycle.ts) or ORT's defaults
    enableMemPattern: spinning,
    extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" } } },
  });
  const runOne = async (x: Float32Array) => {
    const t0 = performance.now();
    await session.run({ input: new ort.Tensor("float32", x, [1, 3, SIZE, SIZE]) });
    return performance.now() - t0;
  };
  for (const x of tensors.slice(0, 2)) await runOne(x);
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < REQUESTS; i++) lat.push(await runOne(tensors[i % tensors.length] as Float32Array));
  const label = spinning ? "ORT default: spinning threads" : "server's options: no spinning";
  const row = summarise(
    `bare ONNX Runtime session, ${precision} (tensors only; ${label}; ${when})`,
    1,
    lat,
    performance.now() - t0,
    0,
    null,
  );
  await session.release();
  return row;
}

/**
 * `k` bare sessions of THREADS / k threads each, in worker threads, running side by side (what
 * the server's --instances k does under load): REQUESTS runs in all, throughput over the wall
 * time of the slowest, latencies of all.
 */
async function benchBareSideBySide(
  modelPath: string,
  tensors: Float32Array[],
  k: number,
  precision = "fp32",
) {
  const runs = Math.ceil(REQUESTS / k);
  const workers = Array.from(
    { length: k },
    () =>
      new Worker(new URL("./bare-worker.mjs", import.meta.url), {
        workerData: {
          model: modelPath,
          threads: Math.floor(THREADS / k),
          size: SIZE,
          tensors,
          runs,
          spinning: false,
        },
      }),
  );
  try {
    const next = (w: Worker) =>
      new Promise<{ ready?: boolean; latencies?: number[] }>((resolve, reject) => {
        w.once("message", resolve);
        w.once("error", reject);
      });
    await Promise.all(workers.map(next));
    const t0 = performance.now();
    const done = workers.map(next);
    for (const w of workers) w.postMessage("go");
    const results = await Promise.all(done);
    const wall = performance.now() - t0;
    const lat = results.flatMap((r) => r.latencies ?? []);
    return summarise(
      `bare ONNX Runtime sessions, ${precision}, ${k} x ${Math.floor(THREADS / k)} thread side by side (tensors only; server's options: no spinning)`,
      k,
      lat,
      wall,
      0,
      null,
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** One row per concurrency level for a system behind `url`; RSS of `pid` and its descendants. */
async function driveLevels(system: string, url: string, photos: Buffer[], pid: number, levels = LEVELS) {
  for (const c of levels) {
    const r = await drive(url, photos, c, REQUESTS);
    summarise(system, c, r.lat, r.wallMs, r.errors, peakRssMiB(pid));
  }
}

/**
 * The server as the container runs it: one esbuild bundle (the Dockerfile's command) with the
 * worker script and the WebAssembly beside it, run by plain node (no TypeScript loader in the
 * process, which would add its own memory). Built under model/server/.cache so that the
 * external packages (sharp, onnxruntime-node) resolve from the repo's node_modules.
 */
async function bundleServer(): Promise<string> {
  const dist = join(REPO_ROOT, "model/server/.cache/bench-dist");
  await rm(dist, { recursive: true, force: true });
  const src = join(REPO_ROOT, "model/server/src");
  await run(join(REPO_ROOT, "node_modules/.bin/esbuild"), [
    join(src, "cli.ts"),
    "--bundle",
    "--platform=node",
    "--format=esm",
    `--target=node${process.versions.node.split(".")[0]}`, // the Node that runs the bench (.node-version)
    "--external:sharp",
    "--external:onnxruntime-node",
    "--banner:js=import { createRequire as __wmsCreateRequire } from 'node:module'; const require = __wmsCreateRequire(import.meta.url);",
    `--outfile=${join(dist, "cli.mjs")}`,
    "--log-level=warning",
  ]);
  await copyFile(join(src, "model/ort-worker.mjs"), join(dist, "ort-worker.mjs"));
  await copyFile(join(src, "http/json-worker.mjs"), join(dist, "json-worker.mjs"));
  await mkdir(join(dist, "wasm"));
  await copyFile(join(src, "model/wasm/pillow-resize.wasm"), join(dist, "wasm/pillow-resize.wasm"));
  return join(dist, "cli.mjs");
}

/**
 * A stand-in shadow for measuring the live side only: it answers each photo at once with a
 * precomputed empty mask of the photo's displayed size (what a real shadow's PNG would be, at
 * no compute), so live's cost of copying, decoding and comparing is all that is measured.
 */
async function shadowResponder(photos: Buffer[]) {
  const masks = new Map<string, Buffer>();
  for (const photo of photos) {
    const m = await sharp(photo).metadata();
    const turned = (m.orientation ?? 1) >= 5;
    const [width, height] = turned ? [m.height, m.width] : [m.width, m.height];
    const [w, h] = [width ?? 1, height ?? 1];
    const png = await sharp(Buffer.alloc(w * h), { raw: { width: w, height: h, channels: 1 } })
      .png()
      .toBuffer();
    masks.set(createHash("sha1").update(photo).digest("hex"), png);
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const png = masks.get(createHash("sha1").update(Buffer.concat(chunks)).digest("hex"));
      if (!png) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        "content-type": "image/png",
        "x-model-version": "bench-shadow",
        "x-mask-coverage": "0",
      });
      res.end(png);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

async function benchNode(
  modelPath: string,
  photos: Buffer[],
  variant: { label: string; args: string[]; levels?: number[] } = {
    label: "this server (Node, onnxruntime-node, sharp)",
    args: [],
  },
) {
  const port = 18400 + Math.floor(Math.random() * 500);
  const cli = await bundleServer();
  const s = start(
    process.execPath,
    [
      ...SERVER_NODE_FLAGS, // as the Dockerfile's ENTRYPOINT starts it
      cli,
      "serve",
      "--model",
      modelPath,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--metrics-port",
      String(port + 1),
      "--threads",
      String(THREADS),
      "--queue",
      "64",
      ...variant.args,
    ],
    {
      cwd: REPO_ROOT,
      // the container image's environment (Dockerfile)
      env: {
        ...process.env,
        WMS_MODEL_CARD_SCHEMA: join(REPO_ROOT, "model/model-card.schema.json"),
        MALLOC_ARENA_MAX: "2",
      },
    },
  );
  try {
    await waitFor(`http://127.0.0.1:${port}/ping`, s.proc, 60, s.log);
    const url = `http://127.0.0.1:${port}/predictions/wms`;
    const scrape = async () => (await fetch(`http://127.0.0.1:${port + 1}/metrics`)).text();
    // Which kind of session (session-pool.ts) ran the batches, per level.
    const batches = (text: string) =>
      (["wide", "narrow"] as const).map((kind) =>
        Number(
          new RegExp(`^wms_inference_batches_total\\{session="${kind}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0,
        ),
      );
    // Full (mark-compact) collections of the main thread's heap and their pauses, from prom-client's
    // nodejs_gc_duration_seconds{kind="major"} (node-flags.ts says why they matter).
    const majorGcs = (text: string) =>
      (["count", "sum"] as const).map((k) =>
        Number(
          new RegExp(`^nodejs_gc_duration_seconds_${k}\\{kind="major"\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0,
        ),
      );
    const perLevel: string[] = [];
    const gcPerLevel: string[] = [];
    for (const c of variant.levels ?? LEVELS) {
      const before = await scrape();
      const [w0, n0] = batches(before);
      const [g0, p0] = majorGcs(before);
      await driveLevels(variant.label, url, photos, s.proc.pid as number, [c]);
      const after = await scrape();
      const [w1, n1] = batches(after);
      const [g1, p1] = majorGcs(after);
      perLevel.push(`c=${c}: wide ${(w1 ?? 0) - (w0 ?? 0)}, narrow ${(n1 ?? 0) - (n0 ?? 0)}`);
      gcPerLevel.push(
        `c=${c}: ${(g1 ?? 0) - (g0 ?? 0)} (${(1000 * ((p1 ?? 0) - (p0 ?? 0))).toFixed(1)} ms of pauses)`,
      );
    }
    notes.push(`${variant.label}, batches by session kind: ${perLevel.join("; ")}`);
    notes.push(
      `${variant.label}, full GCs of the main thread's heap (each level: ${REQUESTS} requests + a warm-up per client): ${gcPerLevel.join("; ")}`,
    );
    // Where a request's time goes, from the server's own stage histograms (all levels together).
    const metrics = await scrape();
    const mean = (stage: string) => {
      const line = (kind: string) =>
        Number(
          metrics
            .split("\n")
            .find((l) => l.startsWith(`wms_stage_duration_seconds_${kind}{stage="${stage}"}`))
            ?.split(" ")[1],
        );
      return `${stage} ${((1000 * line("sum")) / line("count")).toFixed(1)} ms`;
    };
    const stages = ["decode", "preprocess", "queue", "inference", "postprocess", "total"];
    notes.push(`${variant.label}, mean per stage over all levels: ${stages.map(mean).join(", ")}`);
    if (variant.args.includes("--shadow")) {
      const compared = /^wms_shadow_requests_total\{[^}]*result="compared"[^}]*\} (\S+)$/m.exec(metrics)?.[1];
      notes.push(`${variant.label}: shadow copies compared: ${compared ?? 0}`);
    }
    return Buffer.from(await (await fetch(url, { method: "POST", body: photos[0] })).arrayBuffer());
  } finally {
    await s.stop();
  }
}

async function benchTorchServe(modelPath: string, cardPath: string, photos: Buffer[]) {
  const work = await mkdtemp(join(tmpdir(), "wms-torchserve-"));
  const port = 18900 + Math.floor(Math.random() * 50);
  let s: ReturnType<typeof start> | undefined;
  try {
    const torchserve = join(VENV_BIN, "torchserve");
    const archiver = join(VENV_BIN, "torch-model-archiver");
    if (!existsSync(torchserve) || !existsSync(archiver)) {
      throw new Error(`${torchserve} not installed (pip install torchserve torch-model-archiver into .venv)`);
    }
    const weights = await run(
      PYTHON,
      [join(BENCH_PY, "onnx_weights.py"), modelPath, cardPath, join(work, "model.pt")],
      {
        cwd: TRAINING_DIR,
        env: { ...process.env, PYTHONPATH: TRAINING_DIR },
      },
    );
    notes.push(`TorchServe weights rebuilt in PyTorch; against the ONNX file: ${weights.stdout.trim()}`);
    // Eager PyTorch alone on the same weights: what TorchServe's model step costs by itself.
    const eager = JSON.parse(
      (
        await run(
          PYTHON,
          [
            join(BENCH_PY, "bare_torch.py"),
            join(work, "model.pt"),
            cardPath,
            String(THREADS),
            String(Math.min(REQUESTS, 8)),
          ],
          {
            cwd: TRAINING_DIR,
            env: { ...process.env, PYTHONPATH: TRAINING_DIR },
          },
        )
      ).stdout,
    ) as { latenciesMs: number[]; wallMs: number };
    summarise("bare PyTorch eager (no HTTP, random tensor)", 1, eager.latenciesMs, eager.wallMs, 0, null);
    await copyFile(cardPath, join(work, "model-card.json"));
    await writeFile(
      join(work, "bench-config.json"),
      JSON.stringify({ trainingDir: TRAINING_DIR, threads: THREADS }),
    );
    await run(archiver, [
      "--model-name",
      "wms",
      "--version",
      "1.0",
      "--serialized-file",
      join(work, "model.pt"),
      "--handler",
      join(BENCH_PY, "ts_handler.py"),
      "--extra-files",
      `${join(work, "model-card.json")},${join(work, "bench-config.json")},${join(BENCH_PY, "folded.py")}`,
      "--export-path",
      work,
      "--force",
    ]);
    await writeFile(
      join(work, "config.properties"),
      [
        `inference_address=http://127.0.0.1:${port}`,
        `management_address=http://127.0.0.1:${port + 1}`,
        `metrics_address=http://127.0.0.1:${port + 2}`,
        "default_workers_per_model=1",
        "disable_token_authorization=true",
        "install_py_dep_per_model=false",
        "",
      ].join("\n"),
    );
    s = start(
      torchserve,
      [
        "--start",
        "--foreground",
        "--ncs",
        "--disable-token-auth",
        "--ts-config",
        "config.properties",
        "--model-store",
        work,
        "--models",
        "wms=wms.mar",
      ],
      { cwd: work, env: { ...process.env, PATH: `${VENV_BIN}:${process.env.PATH}` } },
    );
    await waitFor(`http://127.0.0.1:${port}/ping`, s.proc, 90, s.log);
    const url = `http://127.0.0.1:${port}/predictions/wms`;
    // The worker loads lazily: wait until a prediction succeeds.
    for (let i = 0; i < 60; i++) {
      if (
        (await fetch(url, { method: "POST", body: photos[0] }).then(
          (r) => r.status,
          () => 0,
        )) === 200
      )
        break;
      await sleep(1000);
    }
    await driveLevels("TorchServe 0.12 (eager PyTorch, 1 worker)", url, photos, s.proc.pid as number);
    return Buffer.from(await (await fetch(url, { method: "POST", body: photos[0] })).arrayBuffer());
  } finally {
    await s?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

function table(): string {
  const fmt = (v: number | null, d = 1) => (v === null ? "n/a" : v.toFixed(d));
  const lines = [
    "| system | concurrency | requests | errors | throughput (img/s) | p50 (ms) | p95 (ms) | p99 (ms) | peak RSS (MiB) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.system} | ${r.concurrency} | ${r.requests} | ${r.errors} | ${r.throughput.toFixed(2)} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.peakRssMiB, 0)} |`,
    );
  }
  return lines.join("\n");
}

/** Load average and CPU counters, for the line that says how quiet the machine was (Linux only). */
function quietSample(): { load: number; ticks: CpuTicks } | null {
  if (!existsSync("/proc/loadavg") || !existsSync("/proc/stat")) return null;
  const load = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  return { load, ticks: parseProcStat(readFileSync("/proc/stat", "utf8")) };
}

function autogroupEnabled(): boolean | null {
  const f = "/proc/sys/kernel/sched_autogroup_enabled";
  return existsSync(f) ? readFileSync(f, "utf8").trim() === "1" : null;
}

/**
 * Each stage of the server's photo path alone, one photo at a time (round 1 is a warm-up): the
 * default path, the decode at the model's scale (decode.ts decodeForModel).
 */
async function stageWork(
  photos: Buffer[],
  spec: PreprocessSpec,
  logits: Float32Array,
  post: Parameters<typeof postprocess>[1],
): Promise<StageWork> {
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1] as number;
  const d: number[] = [];
  const p: number[] = [];
  const q: number[] = [];
  const out = new Float32Array(3 * spec.width * spec.height);
  for (let round = 0; round < 3; round++) {
    for (const photo of photos) {
      const t0 = performance.now();
      const img = await decodeForModel(
        photo,
        { exifTranspose: true, width: spec.width, height: spec.height },
        { maxPixels: 5e7 },
      );
      const t1 = performance.now();
      await preprocess(img.decoded, spec, out);
      const t2 = performance.now();
      await encodeMaskPng(postprocess(logits, post, img.displayed));
      const t3 = performance.now();
      if (round === 0) continue;
      d.push(t1 - t0);
      p.push(t2 - t1);
      q.push(t3 - t2);
    }
  }
  return { decodeMs: med(d), preprocessMs: med(p), postprocessMs: med(q) };
}

async function main() {
  const missing = datasetUnavailable();
  if (missing) throw new Error(missing);
  const started = performance.now();
  const quietBefore = quietSample();
  const model = RELEASE ? { model: RELEASE.model, card: RELEASE.card } : await untrainedModel(SIZE);
  const files = datasetImages().slice(0, Number(args.photos));
  const photos = await Promise.all(files.map((f) => readFile(f)));
  const spec = {
    width: SIZE,
    height: SIZE,
    scale: 1 / 255,
    mean: [0.485, 0.456, 0.406] as const,
    std: [0.229, 0.224, 0.225] as const,
  };
  const tensors: Float32Array[] = [];
  for (const p of photos)
    tensors.push(await preprocess(await decodeImage(p, { exifTranspose: true }, { maxPixels: 5e7 }), spec));

  // The two per-pixel JS loops, timed alone (median of 50): HWC->CHW normalisation of the
  // resized photo, and resizing the probability map back to the photo's size with threshold.
  const decoded = await decodeImage(photos[0] as Buffer, { exifTranspose: true }, { maxPixels: 5e7 });
  const small = await resizeRgb(decoded, spec);
  // The model's own output for that photo: how much of it is near the threshold decides the
  // cost of the resize back (an untrained model is near 0.5 everywhere, a trained one is not).
  const probe = await ort.InferenceSession.create(model.model);
  const probed = await probe.run({
    input: new ort.Tensor("float32", tensors[0] as Float32Array, [1, 3, SIZE, SIZE]),
  });
  const logits = Float32Array.from(Object.values(probed)[0]?.data as Float32Array);
  await probe.release();
  const post = {
    width: SIZE,
    height: SIZE,
    activation: "sigmoid" as const,
    threshold: 0.5,
    resizeBack: "bilinear" as const,
  };
  const tensorOut = new Float32Array(3 * SIZE * SIZE); // reused, as the server's buffer pool does
  const median = (f: () => void) => {
    const t: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      f();
      t.push(performance.now() - t0);
    }
    return t.sort((a, b) => a - b)[25] as number;
  };
  notes.push(
    `JS loops alone (median of 50): HWC->CHW normalisation ${SIZE}x${SIZE} ${median(() => normalizeToChw(small, spec, tensorOut)).toFixed(2)} ms; ` +
      `sigmoid + bilinear resize back to ${decoded.width}x${decoded.height} + threshold ${median(() => postprocess(logits, post, decoded)).toFixed(2)} ms`,
  );

  // The server's own work per photo, each stage alone on one core: the ceilings printed below.
  const work = await stageWork(photos, spec, logits, post);
  notes.push(
    `stages alone, one core, median over ${photos.length} photos x 2 rounds: decode ${work.decodeMs.toFixed(1)} ms, ` +
      `preprocess ${work.preprocessMs.toFixed(1)} ms, postprocess + PNG ${work.postprocessMs.toFixed(1)} ms`,
  );

  const machine = JSON.parse(
    (await run(PYTHON, [join(BENCH_PY, "machine.py"), model.model, String(THREADS)])).stdout,
  ) as {
    gflopsPerImage: number;
    params: number;
    sgemmGflops: number;
    clockGhz: number | null;
  };
  console.error(`model ${SIZE}x${SIZE}: ${machine.gflopsPerImage.toFixed(2)} GFLOP/image`);

  // The bare session runs before and after the server rows: this shared machine's speed drifts
  // by 10-20% within minutes, and the ratios below use the mean of the two.
  const int8Model = args["no-int8"] ? undefined : RELEASE?.int8;
  const bare = await benchBare(model.model, tensors, false, "before");
  const bareSpin = await benchBare(model.model, tensors, true, "before");
  const bareInt8 = int8Model ? await benchBare(int8Model, tensors, false, "before", "int8") : undefined;
  const wide = Math.max(...INSTANCES);
  const sideBySide = async () =>
    wide > 1
      ? {
          fp32: await benchBareSideBySide(model.model, tensors, wide),
          int8: int8Model ? await benchBareSideBySide(int8Model, tensors, wide, "int8") : undefined,
        }
      : undefined;
  const pairBefore = await sideBySide();
  // this server at each --instances value: fp32, then int8 (rows by concurrency level)
  const servers = new Map<number, { fp32: Row[]; int8: Row[] }>();
  let nodeMask: Buffer | undefined;
  for (const k of INSTANCES) {
    const flag = k > 1 ? ["--instances", String(k)] : [];
    const tag = k > 1 ? `, --instances ${k}` : "";
    let before = rows.length;
    const mask = await benchNode(model.model, photos, {
      label: `this server, fp32${tag} (Node, onnxruntime-node, sharp)`,
      args: flag,
    });
    nodeMask ??= mask;
    const fp32 = rows.slice(before);
    let int8: Row[] = [];
    if (int8Model) {
      before = rows.length;
      await benchNode(int8Model, photos, {
        label: `this server, int8${tag} (the card's variants.int8)`,
        args: flag,
      });
      int8 = rows.slice(before);
    }
    servers.set(k, { fp32, int8 });
  }
  const server = servers.get(INSTANCES[0] as number)?.fp32 ?? [];
  if (args.shadow) {
    const responder = await shadowResponder(photos);
    const before = rows.length;
    const label = "this server with --shadow (sample 1, shadow answering from memory)";
    await benchNode(model.model, photos, {
      label,
      args: ["--shadow", responder.url, "--shadow-sample", "1"],
      levels: LEVELS.filter((c) => c === 1 || c === 4),
    });
    await responder.close();
    for (const on of rows.slice(before)) {
      const off = server.find((r) => r.concurrency === on.concurrency);
      if (!off) continue;
      notes.push(
        `shadow on / off at c=${on.concurrency}: p50 ${on.p50.toFixed(1)} / ${off.p50.toFixed(1)} ms = ${(on.p50 / off.p50).toFixed(2)}x, ` +
          `throughput ${on.throughput.toFixed(2)} / ${off.throughput.toFixed(2)} = ${(on.throughput / off.throughput).toFixed(2)}x`,
      );
    }
  }
  const pairAfter = await sideBySide();
  const bareAfter = await benchBare(model.model, tensors, false, "after");
  const bareSpinAfter = await benchBare(model.model, tensors, true, "after");
  const bareInt8After = int8Model ? await benchBare(int8Model, tensors, false, "after", "int8") : undefined;
  const floor = (bare.throughput + bareAfter.throughput) / 2;
  const floorSpin = (bareSpin.throughput + bareSpinAfter.throughput) / 2;
  const floorInt8 =
    bareInt8 && bareInt8After ? (bareInt8.throughput + bareInt8After.throughput) / 2 : undefined;
  const x = (a: number, b: number) => `${a.toFixed(2)} / ${b.toFixed(2)} = ${(a / b).toFixed(2)}x`;
  const at = (rs: Row[], c: number) => rs.find((r) => r.concurrency === c);
  if (floorInt8) notes.push(`bare session int8 / fp32: ${x(floorInt8, floor)} (mean of before and after)`);
  const pairFloor =
    pairBefore && pairAfter ? (pairBefore.fp32.throughput + pairAfter.fp32.throughput) / 2 : undefined;
  const pairFloorInt8 =
    pairBefore?.int8 && pairAfter?.int8
      ? (pairBefore.int8.throughput + pairAfter.int8.throughput) / 2
      : undefined;
  if (pairFloor) {
    notes.push(
      `bare ${wide} x ${Math.floor(THREADS / wide)} thread side by side / one ${THREADS}-thread session: fp32 ${x(pairFloor, floor)}` +
        (pairFloorInt8 && floorInt8 ? `; int8 ${x(pairFloorInt8, floorInt8)}` : "") +
        " (means of before and after)",
    );
  }
  for (const [k, rs] of servers) {
    const who = k > 1 ? `server --instances ${k}` : "server";
    if (floorInt8) {
      for (const c of [1, 4]) {
        const r = at(rs.int8, c);
        const f = at(rs.fp32, c);
        if (!r) continue;
        notes.push(
          `int8 ${who} / int8 bare session at c=${c}: ${x(r.throughput, floorInt8)}` +
            (f ? `; int8 ${who} / fp32 ${who}: ${x(r.throughput, f.throughput)}` : ""),
        );
      }
    }
    for (const c of [1, 4]) {
      const r = at(rs.fp32, c);
      if (!r) continue;
      notes.push(
        `${who} / bare session at c=${c}: ${x(r.throughput, floor)} (server's options, mean of before and after); ` +
          `${x(r.throughput, floorSpin)} (ORT defaults)` +
          (k > 1 && pairFloor && c > 1
            ? `; ${x(r.throughput, pairFloor)} (${wide} bare sessions side by side)`
            : ""),
      );
    }
  }
  {
    const c = ceilings({ bareRate: floor, busyRate: pairFloor, threads: THREADS, work });
    notes.push(
      `ceilings from the stages alone (${c.stageMs.toFixed(1)} ms of one core per photo; HTTP, GC and the load generator not counted): ` +
        `server / bare session at most ${c.c1.toFixed(2)}x at c=1 (stages in series with inference) and ` +
        `${c.busy.toFixed(2)}x with every core busy (CPU time per photo${pairFloor ? ", sessions side by side" : ""})`,
    );
  }
  if (!args["no-torchserve"] && nodeMask) {
    try {
      const tsMask = await benchTorchServe(model.model, model.card, photos);
      notes.push(
        `mask IoU, this server vs TorchServe, on ${files[0]}: ${(await maskIou(nodeMask, tsMask)).toFixed(4)}`,
      );
    } catch (err) {
      notes.push(`TorchServe did not run: ${(err as Error).message.split("\n")[0]}`);
    }
  }

  const ts = rows.filter((r) => r.system.startsWith("TorchServe"));
  const ts4 = at(ts, 4);
  const peak = (rs: Row[]) => Math.max(...rs.map((r) => r.peakRssMiB ?? 0));
  for (const [k, rs] of servers) {
    const who = k > 1 ? `server --instances ${k}` : "server";
    const node4 = at(rs.fp32, 4);
    if (ts4 && node4) {
      notes.push(
        `${who} / TorchServe at c=4: ${x(node4.throughput, ts4.throughput)} throughput, ` +
          `p99 ${node4.p99.toFixed(1)} vs ${ts4.p99.toFixed(1)} ms; peak RSS ${peak(rs.fp32).toFixed(0)} / ${peak(ts).toFixed(0)} MiB = ${(peak(rs.fp32) / peak(ts)).toFixed(2)}x`,
      );
    }
    const int8At4 = at(rs.int8, 4);
    if (ts4 && int8At4) {
      notes.push(
        `int8 ${who} / TorchServe (fp32 weights) at c=4: ${x(int8At4.throughput, ts4.throughput)} throughput`,
      );
    }
  }
  const best = [bare, bareSpin, bareAfter, bareSpinAfter].reduce((a, b) =>
    b.throughput > a.throughput ? b : a,
  );
  const achieved = machine.gflopsPerImage * best.throughput;
  const cpu = existsSync("/proc/cpuinfo") ? parseCpuinfo(readFileSync("/proc/cpuinfo", "utf8")) : undefined;
  const peaks = cpu ? peaksOf(cpu) : undefined;
  const theoretical = machine.clockGhz && peaks ? machine.clockGhz * peaks.fp32PerCycle * THREADS : null;
  const int8Peak = machine.clockGhz && peaks ? machine.clockGhz * peaks.int8PerCycle * THREADS : null;
  const quietAfter = quietSample();
  const out = [
    `machine: ${cpu?.model ?? cpus()[0]?.model ?? "unknown"} (${cpu?.vendor ?? "?"}), ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ` +
      `onnxruntime-node ${ort.env.versions.common}, ${THREADS} intra-op threads`,
    cpu && peaks
      ? `ISA: ${isaLabel(cpu.isa)}; clock ${machine.clockGhz?.toFixed(2) ?? "?"} GHz (measured, dependent IMUL chain); ` +
        `peaks at ${THREADS} cores: fp32 ${theoretical?.toFixed(0) ?? "?"} GFLOP/s (${peaks.fp32PerCycle} FLOP/cycle/core), ` +
        `int8 ${int8Peak?.toFixed(0) ?? "?"} GOP/s (${peaks.int8PerCycle.toFixed(0)} op/cycle/core); ${peaks.basis}`
      : "ISA: unknown (no /proc/cpuinfo)",
    quietBefore && quietAfter
      ? quietLabel({
          loadBefore: quietBefore.load,
          loadAfter: quietAfter.load,
          before: quietBefore.ticks,
          after: quietAfter.ticks,
          autogroup: autogroupEnabled(),
        })
      : "load: unknown (no /proc/loadavg or /proc/stat)",
    `model: ${RELEASE?.what ?? "seeded untrained U-Net"} (seed architecture), input ${SIZE}x${SIZE}, ${machine.params} parameters, ` +
      `${machine.gflopsPerImage.toFixed(2)} GFLOP per image (2 x Conv MACs)`,
    `photos: ${files.length} dataset photos, cycled; ${REQUESTS} measured requests per row after a warm-up request per client`,
    "",
    table(),
    "",
    `bare session (fastest of its rows): ${achieved.toFixed(1)} GFLOP/s achieved` +
      ` = ${((100 * achieved) / machine.sgemmGflops).toFixed(0)}% of numpy sgemm on this machine (${machine.sgemmGflops.toFixed(1)} GFLOP/s)` +
      (theoretical
        ? ` = ${((100 * achieved) / theoretical).toFixed(0)}% of the fp32 peak (${theoretical.toFixed(0)} GFLOP/s)`
        : ""),
    ...(bareInt8 && bareInt8After && int8Peak
      ? [
          `bare int8 session (faster of its rows): ${(machine.gflopsPerImage * Math.max(bareInt8.throughput, bareInt8After.throughput)).toFixed(1)} GOP/s achieved` +
            ` = ${((100 * machine.gflopsPerImage * Math.max(bareInt8.throughput, bareInt8After.throughput)) / int8Peak).toFixed(0)}% of the int8 peak (${int8Peak.toFixed(0)} GOP/s)`,
        ]
      : []),
    ...notes,
    `bench wall time: ${((performance.now() - started) / 1000).toFixed(0)} s`,
  ];
  console.log(out.join("\n"));
}

main().catch((err) => {
  console.error(`Error: ${(err as Error).message}`);
  process.exitCode = 1;
});
