// ONNX Runtime session on its own thread.
//
// Why a worker: onnxruntime-node's InferenceSession.run() executes on the calling JS thread
// (measured: a 512x512 U-Net run blocks the event loop for ~0.6-0.8 s). On the main thread that
// would stall /ping, Retry-After answers and every other request for the whole inference.
// Plain JavaScript because worker threads load files with Node's own loader (no TS transform);
// the protocol is typed on the other side, in session.ts.
import { parentPort } from "node:worker_threads";
import ort from "onnxruntime-node";

let session;

function reply(msg, transfer) {
  parentPort.postMessage(msg, transfer ?? []);
}

parentPort.on("message", async (msg) => {
  try {
    if (msg.type === "create") {
      session = await ort.InferenceSession.create(new Uint8Array(msg.bytes), msg.options);
      reply({ id: msg.id, ok: true, inputNames: session.inputNames, outputNames: session.outputNames });
    } else if (msg.type === "run") {
      const input = new ort.Tensor("float32", new Float32Array(msg.data), msg.dims);
      const out = await session.run({ [msg.inputName]: input }, [msg.outputName]);
      const t = out[msg.outputName];
      if (!t || t.type !== "float32") throw new Error(`output "${msg.outputName}" missing or not float32`);
      // A copy owns its whole buffer, so it can be transferred rather than cloned.
      const data = new Float32Array(t.data);
      reply({ id: msg.id, ok: true, dims: t.dims, data: data.buffer }, [data.buffer]);
    } else if (msg.type === "release") {
      await session?.release();
      session = undefined;
      reply({ id: msg.id, ok: true });
    }
  } catch (err) {
    reply({ id: msg.id, ok: false, message: err instanceof Error ? err.message : String(err) });
  }
});
