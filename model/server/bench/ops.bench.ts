/**
 * npx tsx model/server/bench/ops.bench.ts [--model latest | <path/to/model.onnx>] [--runs 8]
 *
 * Where ONNX Runtime's time goes, per operator type, for a release's fp32 model and its int8
 * variant (model.int8.onnx beside it, when its card lists variants.int8; input size from the
 * card), with the server's session options (2 intra-op threads,
 * no spinning, no memory pattern): ORT's own profiler (`enableProfiling`) over `--runs` runs on
 * one zero tensor after a warm-up run, its "Node" events summed by op type. Answers whether the
 * int8 model's time is in its convolutions or in the quantize/dequantize around them.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import { newestShippedRelease } from "../test/support/model.ts";
import { isaLabel, parseCpuinfo } from "./machine.ts";

const { values: args } = parseArgs({
  options: {
    // "latest": the newest release the repo ships; or a path to a release's model.onnx
    model: { type: "string", default: "latest" },
    runs: { type: "string", default: "8" },
    threads: { type: "string", default: "2" },
  },
  strict: true,
});
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${args.runs}: give a whole number >= 1`);

const model = resolve(args.model === "latest" ? newestShippedRelease() : args.model);
const card = JSON.parse(readFileSync(join(dirname(model), "model-card.json"), "utf8"));
const shape = card.io.input.shape as number[]; // [N, 3, H, W]
const int8 = join(dirname(model), "model.int8.onnx");

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

/** Sum the profile's node events (microseconds) by op type. */
function byOpType(events: ProfileEvent[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time") || !e.args?.op_name) continue;
    sums.set(e.args.op_name, (sums.get(e.args.op_name) ?? 0) + e.dur);
  }
  return sums;
}

async function profile(path: string): Promise<{ perRunMs: number; ops: [string, number][] }> {
  const dir = await mkdtemp(join(tmpdir(), "wms-ops-"));
  try {
    const session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: Number(args.threads),
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      enableMemPattern: false,
      extra: { session: { intra_op: { allow_spinning: "0" } } },
      enableProfiling: true,
      profileFilePrefix: join(dir, "ort"),
    } as ort.InferenceSession.SessionOptions);
    const name = session.inputNames[0] as string;
    const dims = [1, ...shape.slice(1)];
    const input = new ort.Tensor("float32", new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    await session.run({ [name]: input }); // warm-up (its events are dropped below)
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await session.run({ [name]: input });
    const perRunMs = (performance.now() - t0) / runs;
    session.endProfiling();
    await session.release();
    const file = (await readdir(dir)).find((f) => f.endsWith(".json"));
    if (!file) throw new Error(`ONNX Runtime wrote no profile into ${dir}`);
    const events = JSON.parse(readFileSync(join(dir, file), "utf8")) as ProfileEvent[];
    // the first run's node events are the warm-up's: keep the events from the measured runs on
    const runEvents = events.filter((e) => e.cat === "Session" && e.name === "model_run");
    if (runEvents.length !== runs + 1)
      throw new Error(`profile has ${runEvents.length} model_run events, expected ${runs + 1}`);
    const start = (runEvents[1] as ProfileEvent).ts;
    const measured = events.filter((e) => e.ts >= start);
    const ops = [...byOpType(measured)].map(([op, us]) => [op, us / 1000 / runs] as [string, number]);
    ops.sort((a, b) => b[1] - a[1]);
    return { perRunMs, ops };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const cpu = parseCpuinfo(readFileSync("/proc/cpuinfo", "utf8"));
console.log(
  `machine: ${cpu.model}, ${cpus().length} cores; ISA: ${isaLabel(cpu.isa)}; onnxruntime-node ${ort.env.versions.common}, ${args.threads} intra-op threads`,
);
for (const path of [model, int8]) {
  if (path === int8 && !(card.variants?.int8 && existsSync(int8))) {
    console.log(`${path}: no int8 variant on the card or no file, skipped`);
    continue;
  }
  const { perRunMs, ops } = await profile(path);
  const total = ops.reduce((s, [, ms]) => s + ms, 0);
  console.log(
    `${path}: ${perRunMs.toFixed(1)} ms per run (${runs} runs, profiler on), kernels ${total.toFixed(1)} ms`,
  );
  for (const [op, ms] of ops.slice(0, 8))
    console.log(
      `  ${op.padEnd(24)} ${ms.toFixed(1).padStart(7)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)}%`,
    );
}
