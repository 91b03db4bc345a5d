// Open Inference Protocol v2 JSON bodies -> input tensors, on their own thread.
//
// Why a worker: JSON.parse of a maximal body (tens of MB of numbers) takes the thread for a
// second or more and builds a heap many times the body's size. On the main thread that would
// stall liveness probes and every other request; here the main thread keeps answering, and
// this thread's heap is capped (json-tensors.ts), so a body that needs more fails here alone.
// Plain JavaScript because worker threads load files with Node's own loader (no TS transform);
// the protocol is typed on the other side, in json-tensors.ts.
import { parentPort } from "node:worker_threads";

class BadInput extends Error {}

/** null, array, string, ...: what a JSON value is, for an error message. */
const jsonKind = (v) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);

function inputImages(spec, request) {
  if (!Array.isArray(request.inputs) || request.inputs.length !== 1) {
    throw new BadInput(`"inputs" must be an array with exactly one tensor ("${spec.inputName}")`);
  }
  const t = request.inputs[0];
  if (t === null || typeof t !== "object" || Array.isArray(t)) {
    throw new BadInput(`"inputs"[0] must be a tensor object, got ${jsonKind(t)}`);
  }
  if (t.name !== spec.inputName) throw new BadInput(`unknown input "${String(t.name)}"; expected "${spec.inputName}"`);
  if (t.datatype === "BYTES") return { photos: inputPhotos(spec, t) };
  if (t.datatype !== "FP32") throw new BadInput(`input datatype must be FP32, got ${JSON.stringify(t.datatype)}`);
  const shape = t.shape;
  const want = [3, spec.height, spec.width];
  if (
    !Array.isArray(shape) ||
    shape.length !== 4 ||
    !Number.isInteger(shape[0]) ||
    shape[0] < 1 ||
    shape[0] > spec.maxBatch ||
    want.some((d, i) => shape[i + 1] !== d)
  ) {
    throw new BadInput(
      `input shape must be [N,${want.join(",")}] with 1 <= N <= ${spec.maxBatch}, got ${JSON.stringify(shape)}`,
    );
  }
  const n = shape[0];
  const per = 3 * spec.height * spec.width;
  const flat = Array.isArray(t.data) ? t.data.flat(4) : undefined;
  if (!flat || flat.length !== n * per) {
    throw new BadInput(`input data must hold ${n * per} numbers (row-major), got ${flat?.length ?? "none"}`);
  }
  const images = [];
  for (let i = 0; i < n; i++) {
    const x = new Float32Array(per);
    for (let j = 0; j < per; j++) {
      const v = flat[i * per + j];
      if (typeof v !== "number" || !Number.isFinite(v)) throw new BadInput(`input data[${i * per + j}] is not a finite number`);
      x[j] = v;
    }
    images.push(x);
  }
  return { images };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A BYTES input: one encoded photo (JPEG or PNG) per element, base64 in JSON, as KServe's and
 * Triton's image examples send it (`{"datatype": "BYTES", "shape": [N], "data": ["<base64>"]}`).
 * The server decodes and preprocesses each as /predictions does.
 */
function inputPhotos(spec, t) {
  const shape = t.shape;
  if (!Array.isArray(shape) || shape.length !== 1 || !Number.isInteger(shape[0]) || shape[0] < 1 || shape[0] > spec.maxBatch) {
    throw new BadInput(`a BYTES input's shape must be [N] with 1 <= N <= ${spec.maxBatch} (one photo each), got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(t.data) || t.data.length !== shape[0]) {
    throw new BadInput(`BYTES input data must hold ${shape[0]} base64 string(s), one photo each, got ${Array.isArray(t.data) ? t.data.length : "none"}`);
  }
  return t.data.map((v, i) => {
    if (typeof v !== "string" || v.length === 0 || v.length % 4 !== 0 || !BASE64.test(v)) {
      throw new BadInput(`BYTES input data[${i}] must be a JPEG or PNG photo in base64, got ${typeof v === "string" ? "a string that is not base64" : jsonKind(v)}`);
    }
    const bytes = Buffer.from(v, "base64");
    // its own memory, so that it can be moved to the main thread
    const own = new Uint8Array(bytes.length);
    own.set(bytes);
    return own;
  });
}

function checkRequestedOutputs(spec, outputs) {
  if (outputs === undefined) return;
  if (!Array.isArray(outputs)) throw new BadInput(`"outputs" must be an array`);
  for (const o of outputs) {
    if (o?.name !== spec.outputName) {
      throw new BadInput(`unknown output "${String(o?.name)}"; the model has "${spec.outputName}"`);
    }
  }
}

function tensors(body, spec) {
  let request;
  try {
    request = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
  } catch (err) {
    throw new BadInput(`body is not JSON: ${err.message}`);
  }
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new BadInput(`body must be a JSON object with "inputs", got ${jsonKind(request)}`);
  }
  const input = inputImages(spec, request);
  if (input.images) checkRequestedOutputs(spec, request.outputs);
  return { id: typeof request.id === "string" ? request.id : undefined, ...input };
}

parentPort.on("message", (msg) => {
  try {
    const { id, images, photos } = tensors(msg.body, msg.spec);
    if (photos) {
      const buffers = photos.map((x) => x.buffer);
      parentPort.postMessage({ seq: msg.seq, ok: true, id, images: [], photos: buffers }, buffers);
      return;
    }
    const buffers = images.map((x) => x.buffer);
    parentPort.postMessage({ seq: msg.seq, ok: true, id, images: buffers }, buffers);
  } catch (err) {
    const bad = err instanceof BadInput;
    parentPort.postMessage({ seq: msg.seq, ok: false, bad, message: err instanceof Error ? err.message : String(err) });
  }
});
