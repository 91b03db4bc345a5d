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
      // Both buffers leave this thread (transferred, not copied): the output for the answer, the
      // input for reuse. Nothing large is left here as garbage: this thread allocates almost no
      // JavaScript, so its garbage would wait long for a collection.
      const whole = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength;
      const data = whole ? t.data : new Float32Array(t.data);
      reply({ id: msg.id, ok: true, dims: t.dims, data: data.buffer, input: msg.data }, [data.buffer, msg.data]);
    } else if (msg.type === "release") {
      await session?.release();
      session = undefined;
      reply({ id: msg.id, ok: true });
    }
  } catch (err) {
    reply({ id: msg.id, ok: false, message: err instanceof Error ? err.message : String(err) });
  }
});
