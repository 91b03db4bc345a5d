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

/**
 * The binary tensor extension (KServe's and Triton's): the bytes after the JSON header, taken
 * in order by each input whose parameters carry binary_data_size.
 */
class BinarySection {
  constructor(bytes) {
    this.bytes = bytes;
    this.offset = 0;
  }
  /** the `size` bytes of tensor `name`, checked against what its shape and datatype need */
  take(name, size, need) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new BadInput(`input "${name}": parameters.binary_data_size must be a non-negative integer, got ${JSON.stringify(size)}`);
    }
    if (need !== undefined && size !== need) {
      throw new BadInput(`input "${name}": binary_data_size is ${size} bytes, its shape and datatype need ${need}`);
    }
    if (this.offset + size > this.bytes.length) {
      throw new BadInput(`input "${name}": binary_data_size ${size} runs past the ${this.bytes.length - this.offset} binary bytes left in the body`);
    }
    const b = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return b;
  }
  /** every binary byte must belong to a tensor */
  finish() {
    const left = this.bytes.length - this.offset;
    if (left !== 0) throw new BadInput(`${left} bytes of binary data after the JSON header belong to no input (binary_data_size)`);
  }
}

/** an input's binary_data_size, or undefined when its data is in the JSON */
function binarySize(t) {
  const p = t.parameters;
  if (p === undefined) return undefined;
  if (p === null || typeof p !== "object" || Array.isArray(p)) throw new BadInput(`input "${t.name}": "parameters" must be an object, got ${jsonKind(p)}`);
  if (p.binary_data_size === undefined) return undefined;
  if (t.data !== undefined) throw new BadInput(`input "${t.name}" has both "data" and parameters.binary_data_size: send one`);
  return p.binary_data_size;
}

function inputImages(spec, request, binary) {
  if (!Array.isArray(request.inputs) || request.inputs.length !== 1) {
    throw new BadInput(`"inputs" must be an array with exactly one tensor ("${spec.inputName}")`);
  }
  const t = request.inputs[0];
  if (t === null || typeof t !== "object" || Array.isArray(t)) {
    throw new BadInput(`"inputs"[0] must be a tensor object, got ${jsonKind(t)}`);
  }
  if (t.name !== spec.inputName) throw new BadInput(`unknown input "${String(t.name)}"; expected "${spec.inputName}"`);
  const size = binarySize(t);
  if (size !== undefined && !binary) {
    throw new BadInput(`input "${t.name}" has parameters.binary_data_size but the request has no Inference-Header-Content-Length header`);
  }
  if (t.datatype === "BYTES") return { photos: size === undefined ? inputPhotos(spec, t) : binaryPhotos(spec, t, binary.take(t.name, size))};
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
  if (size !== undefined) return { images: binaryFloats(t.name, binary.take(t.name, size, n * per * 4), n, per) };
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

/** n images of `per` little-endian float32 each, each checked finite as JSON numbers are */
function binaryFloats(name, bytes, n, per) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const images = [];
  for (let i = 0; i < n; i++) {
    const x = new Float32Array(per);
    for (let j = 0; j < per; j++) {
      const v = view.getFloat32((i * per + j) * 4, true);
      if (!Number.isFinite(v)) throw new BadInput(`input "${name}" element ${i * per + j} is not a finite number`);
      x[j] = v;
    }
    images.push(x);
  }
  return images;
}

/**
 * A BYTES input in binary form: each element a 4-byte little-endian length and that many bytes
 * (Triton's serialisation of a BYTES tensor), one encoded photo each.
 */
function binaryPhotos(spec, t, bytes) {
  const shape = t.shape;
  if (!Array.isArray(shape) || shape.length !== 1 || !Number.isInteger(shape[0]) || shape[0] < 1 || shape[0] > spec.maxBatch) {
    throw new BadInput(`a BYTES input's shape must be [N] with 1 <= N <= ${spec.maxBatch} (one photo each), got ${JSON.stringify(shape)}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const photos = [];
  let at = 0;
  for (let i = 0; i < shape[0]; i++) {
    if (at + 4 > bytes.length) throw new BadInput(`BYTES input "${t.name}": element ${i} of ${shape[0]} is missing (binary_data_size ${bytes.length})`);
    const len = view.getUint32(at, true);
    at += 4;
    if (len === 0 || at + len > bytes.length) {
      throw new BadInput(`BYTES input "${t.name}": element ${i} declares ${len} bytes, ${bytes.length - at} are left (a JPEG or PNG photo each)`);
    }
    const own = new Uint8Array(len);
    own.set(bytes.subarray(at, at + len));
    photos.push(own);
    at += len;
  }
  if (at !== bytes.length) throw new BadInput(`BYTES input "${t.name}": ${bytes.length - at} bytes after its ${shape[0]} element(s)`);
  return photos;
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

/**
 * Which outputs go back as binary: an output's parameters.binary_data, else the request's
 * parameters.binary_data_output (tritonclient sets it when it names no outputs), else JSON.
 */
function binaryOutputs(request, names) {
  const p = request.parameters;
  if (p !== undefined && (p === null || typeof p !== "object" || Array.isArray(p))) throw new BadInput(`"parameters" must be an object, got ${jsonKind(p)}`);
  const all = p?.binary_data_output;
  if (all !== undefined && typeof all !== "boolean") throw new BadInput(`parameters.binary_data_output must be true or false, got ${JSON.stringify(all)}`);
  const out = {};
  for (const name of names) {
    const o = Array.isArray(request.outputs) ? request.outputs.find((x) => x?.name === name) : undefined;
    const own = o?.parameters?.binary_data;
    if (own !== undefined && typeof own !== "boolean") throw new BadInput(`output "${name}": parameters.binary_data must be true or false, got ${JSON.stringify(own)}`);
    out[name] = own ?? all ?? false;
  }
  return out;
}

function tensors(body, spec, headerLength) {
  const whole = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const json = headerLength === undefined ? whole : whole.subarray(0, headerLength);
  let request;
  try {
    request = JSON.parse(json.toString("utf8"));
  } catch (err) {
    throw new BadInput(`${headerLength === undefined ? "body" : `JSON header (the first ${headerLength} bytes, Inference-Header-Content-Length)`} is not JSON: ${err.message}`);
  }
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new BadInput(`body must be a JSON object with "inputs", got ${jsonKind(request)}`);
  }
  const binary = headerLength === undefined ? undefined : new BinarySection(whole.subarray(headerLength));
  const input = inputImages(spec, request, binary);
  binary?.finish();
  if (input.images) checkRequestedOutputs(spec, request.outputs);
  const binaryOut = binaryOutputs(request, input.images ? [spec.outputName] : ["mask", "coverage"]);
  return { id: typeof request.id === "string" ? request.id : undefined, binaryOut, ...input };
}

parentPort.on("message", (msg) => {
  try {
    const { id, images, photos, binaryOut } = tensors(msg.body, msg.spec, msg.headerLength);
    if (photos) {
      const buffers = photos.map((x) => x.buffer);
      parentPort.postMessage({ seq: msg.seq, ok: true, id, binaryOut, images: [], photos: buffers }, buffers);
      return;
    }
    const buffers = images.map((x) => x.buffer);
    parentPort.postMessage({ seq: msg.seq, ok: true, id, binaryOut, images: buffers }, buffers);
  } catch (err) {
    const bad = err instanceof BadInput;
    parentPort.postMessage({ seq: msg.seq, ok: false, bad, message: err instanceof Error ? err.message : String(err) });
  }
});
