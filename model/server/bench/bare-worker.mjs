// One bare ONNX Runtime session in a worker thread, for the bench's "side by side" rows: the
// session runs `runs` times on the given tensors when the bench says go, and posts its latencies.
// Plain JavaScript for the same reason as src/model/ort-worker.mjs (a worker has no TS loader).
import { parentPort, workerData } from "node:worker_threads";
import ort from "onnxruntime-node";

const { model, threads, size, tensors, runs, spinning } = workerData;
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: "all",
  enableMemPattern: spinning,
  extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" } } },
});
const runOne = async (x) => {
  const t0 = performance.now();
  await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", x, [1, 3, size, size]) });
  return performance.now() - t0;
};
for (const x of tensors.slice(0, 2)) await runOne(x);
parentPort.postMessage({ ready: true });
parentPort.once("message", async () => {
  const latencies = [];
  for (let i = 0; i < runs; i++) latencies.push(await runOne(tensors[i % tensors.length]));
  await session.release();
  parentPort.postMessage({ latencies });
});
