/**
 * npx tsx model/server/bench/ops.bench.ts [--model model/releases/wms/1.1.0/model.onnx] [--runs 8]
 *
 * Where ONNX Runtime's time goes, per operator type, for the release's fp32 model and its int8
 * variant (model.int8.onnx beside it), with the server's session options (2 intra-op threads,
 * no spinning, no memory pattern): ORT's own profiler (`enableProfiling`) over `--runs` runs on
 * one zero tensor after a warm-up run, its "Node" events summed by op type. Answers whether the
 * int8 model's time is in its convolutions or in the quantize/dequantize around them.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import { REPO_ROOT } from "../test/support/model.ts";
import { isaLabel, parseCpuinfo } from "./machine.ts";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: join(REPO_ROOT, "model/releases/wms/1.1.0/model.onnx") },
    runs: { type: "string", default: "8" },
    threads: { type: "string", default: "2" },
  },
  strict: true,
});
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${args.runs}: give a whole number >= 1`);

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** Sum the profile's node events (microseconds) by op type, dropping the warm-up run. */
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
    const input = new ort.Tensor("float32", new Float32Array(3 * 512 * 512), [1, 3, 512, 512]);
    await session.run({ [name]: input }); // warm-up (its events are dropped below)
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await session.run({ [name]: input });
    const perRunMs = (performance.now() - t0) / runs;
    session.endProfiling();
    await session.release();
    const file = (await readdir(dir)).find((f) => f.endsWith(".json"));
    if (!file) throw new Error(`ONNX Runtime wrote no profile into ${dir}`);
    const events = JSON.parse(readFileSync(join(dir, file), "utf8")) as ProfileEvent[];
    // the first run's node events are the warm-up's: keep the last `runs` runs' worth
    const runEvents = events.filter((e) => e.cat === "Session" && e.name === "model_run");
    const firstMeasured = runEvents.length > runs ? runEvents[runEvents.length - runs] : undefined;
    const start = (firstMeasured as unknown as { ts?: number } | undefined)?.ts ?? 0;
    const measured = events.filter((e) => (e as unknown as { ts: number }).ts >= start);
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
for (const path of [args.model, args.model.replace(/model\.onnx$/, "model.int8.onnx")]) {
  if (!existsSync(path)) {
    console.log(`${path}: not there, skipped`);
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
