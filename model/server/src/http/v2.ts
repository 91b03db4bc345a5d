/**
 * Open Inference Protocol v2 (REST, JSON tensors), as KServe, Triton and Seldon speak it.
 * Infer takes the model's own input tensor (already preprocessed, per the card) and returns
 * its raw output tensor; or, as a BYTES input, the encoded photos themselves (base64 JPEG/PNG,
 * KServe's and Triton's image convention), answered with a PNG mask and the coverage per photo.
 *
 * Both ways also speak the binary tensor extension (Triton's `binary_tensor_data`, which KServe
 * shares): with an `Inference-Header-Content-Length: N` request header the body is N bytes of
 * JSON, then the raw little-endian bytes of each input that carries `parameters.binary_data_size`
 * (a BYTES element: a 4-byte length, then its bytes). Outputs are answered the same way when the
 * request asks (`parameters.binary_data` on an output, or `parameters.binary_data_output`), with
 * that header on the response. The whole body is bounded by --max-json-bytes, as a JSON body is.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BadInputError, NotFoundError, NotReadyError, UnsupportedMediaTypeError } from "../errors.ts";
import type { LoadedModel } from "../model/lifecycle.ts";
import { type InferenceSlot, predictImage } from "../predictor.ts";
import { mediaType, readBody } from "./body.ts";
import type { AppContext } from "./context.ts";
import { sendJson } from "./errors.ts";

export const SERVER_NAME = "wms-model-server";
/** a JSON request may carry up to this many images; they still queue one by one */
const MAX_BATCH = 8;

export interface ModelParams {
  model: string;
  version: string | undefined;
}

/** Live unless the process can no longer serve at all; a model that never loaded is not that. */
export function live(ctx: AppContext, _req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, ctx.host.broken ? 503 : 200, { live: !ctx.host.broken });
}

export function ready(ctx: AppContext, _req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, ctx.host.ready ? 200 : 503, { ready: ctx.host.ready });
}

export function serverMetadata(_ctx: AppContext, _req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, 200, { name: SERVER_NAME, version: "1", extensions: ["binary_tensor_data"] });
}

/** The named model, or 404; while loading the name is unknown, so 503 comes first. */
function lookup(ctx: AppContext, p: ModelParams): LoadedModel {
  const m = ctx.host.require();
  if (p.model !== m.spec.name) throw new NotFoundError(`model "${p.model}" is not served here`);
  if (p.version !== undefined && p.version !== m.spec.version) {
    throw new NotFoundError(
      `model "${p.model}" version "${p.version}" is not served here (${m.spec.version} is)`,
    );
  }
  return m;
}

export function modelReady(
  ctx: AppContext,
  _req: IncomingMessage,
  res: ServerResponse,
  p: ModelParams,
): void {
  if (!ctx.host.ready) throw new NotReadyError(`model "${p.model}" is not ready (${ctx.host.state})`);
  const m = lookup(ctx, p);
  sendJson(res, 200, { name: m.spec.name, ready: true });
}

export function modelMetadata(
  ctx: AppContext,
  _req: IncomingMessage,
  res: ServerResponse,
  p: ModelParams,
): void {
  const m = lookup(ctx, p);
  const { spec, outputSize } = m;
  const batch = spec.fixedBatch ?? -1;
  sendJson(res, 200, {
    name: spec.name,
    versions: [spec.version],
    platform: "onnxruntime_onnx",
    inputs: [{ name: spec.inputName, datatype: "FP32", shape: [batch, 3, spec.height, spec.width] }],
    outputs: [
      { name: spec.outputName, datatype: "FP32", shape: [batch, 1, outputSize.height, outputSize.width] },
    ],
    parameters: { sha256: m.sha256, precision: m.precision, example: m.card.example === true },
  });
}

export async function infer(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: ModelParams & { expectContinue: boolean },
): Promise<void> {
  const m = lookup(ctx, p);
  const headerLength = inferenceHeaderLength(req, ctx.limits.maxJsonBytes);
  const type = mediaType(req);
  if (
    type !== undefined &&
    type !== "application/json" &&
    !(headerLength !== undefined && type === "application/octet-stream")
  ) {
    throw new UnsupportedMediaTypeError(
      `Content-Type ${type} not accepted: send JSON, or with Inference-Header-Content-Length a JSON header and binary tensors (application/octet-stream)`,
    );
  }
  ctx.queue.checkAdmission();
  const hold = ctx.uploads.hold();
  let slot: InferenceSlot | undefined;
  try {
    if (p.expectContinue) res.writeContinue();
    const body = await readBody(req, ctx.limits.maxJsonBytes, ctx.bodyRate, hold);
    if (headerLength !== undefined && headerLength > body.length) {
      throw new BadInputError(
        `Inference-Header-Content-Length is ${headerLength}, the body has only ${body.length} bytes`,
      );
    }
    const { spec } = m;
    const request = await ctx.json.parse(
      body,
      {
        inputName: spec.inputName,
        outputName: spec.outputName,
        height: spec.height,
        width: spec.width,
        maxBatch: MAX_BATCH,
      },
      headerLength,
    );
    if (request.photos) {
      await inferPhotos(ctx, res, m, request.photos, request.id, request.binaryOut);
      return;
    }
    slot = ctx.queue.reserve();
    const images = request.images;
    const outs = await Promise.all(images.map((x) => (slot as InferenceSlot).submit(x)));
    const per = m.outputSize.width * m.outputSize.height;
    const output = {
      name: m.spec.outputName,
      datatype: "FP32",
      shape: [outs.length, 1, m.outputSize.height, m.outputSize.width],
    };
    const head = {
      model_name: m.spec.name,
      model_version: m.spec.version,
      ...(typeof request.id === "string" ? { id: request.id } : {}),
    };
    if (request.binaryOut[m.spec.outputName]) {
      sendWithBinary(res, head, [
        { ...output, binary: float32Bytes(outs.map((o) => o.value.subarray(0, per))) },
      ]);
      return;
    }
    const data = new Array<number>(per * outs.length);
    outs.forEach((o, i) => {
      for (let j = 0; j < per; j++) data[i * per + j] = o.value[j] as number;
    });
    sendJson(res, 200, { ...head, outputs: [{ ...output, data }] });
  } finally {
    slot?.release();
    hold.release();
  }
}

/** BYTES in: each photo through /predictions' path (decode, preprocess, infer, mask) in turn. */
async function inferPhotos(
  ctx: AppContext,
  res: ServerResponse,
  m: LoadedModel,
  photos: Buffer[],
  id: string | undefined,
  binaryOut: Record<string, boolean>,
): Promise<void> {
  const pngs: Buffer[] = [];
  const coverage: number[] = [];
  for (const bytes of photos) {
    const slot = ctx.queue.reserve();
    try {
      const p = await predictImage(
        ctx.host,
        bytes,
        slot,
        { maxPixels: ctx.limits.maxPixels },
        { exactPreprocess: ctx.exactPreprocess },
      );
      for (const [stage, ms] of Object.entries(p.timings))
        ctx.metrics.stageSeconds.observe({ stage }, ms / 1000);
      ctx.metrics.coverage.observe(p.mask.coverage);
      pngs.push(p.png);
      coverage.push(p.mask.coverage);
    } finally {
      slot.release();
    }
  }
  const head = {
    model_name: m.spec.name,
    model_version: m.spec.version,
    ...(id !== undefined ? { id } : {}),
  };
  const mask = {
    name: "mask",
    datatype: "BYTES",
    shape: [photos.length],
    parameters: { content_type: "image/png" },
  };
  const cover = { name: "coverage", datatype: "FP32", shape: [photos.length] };
  if (binaryOut.mask || binaryOut.coverage) {
    sendWithBinary(res, head, [
      binaryOut.mask
        ? { ...mask, binary: bytesElements(pngs) }
        : { ...mask, data: pngs.map((b) => b.toString("base64")) },
      binaryOut.coverage
        ? { ...cover, binary: float32Bytes([Float32Array.from(coverage)]) }
        : { ...cover, data: coverage },
    ]);
    return;
  }
  sendJson(res, 200, {
    ...head,
    outputs: [
      { ...mask, data: pngs.map((b) => b.toString("base64")) },
      { ...cover, data: coverage },
    ],
  });
}

/**
 * The request's Inference-Header-Content-Length: the JSON header's size when the body carries
 * binary tensors after it; undefined without the header. Checked before the body is read.
 */
function inferenceHeaderLength(req: IncomingMessage, maxBytes: number): number | undefined {
  const raw = req.headers["inference-header-content-length"];
  if (raw === undefined) return undefined;
  const n = /^\d{1,15}$/.test(raw as string) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > maxBytes) {
    throw new BadInputError(
      `Inference-Header-Content-Length must be the JSON header's size in bytes, 1 to ${maxBytes}, got "${raw}"`,
    );
  }
  return n;
}

/** float32 values as little-endian bytes, one tensor after the other */
function float32Bytes(parts: Float32Array[]): Buffer {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = Buffer.allocUnsafe(n * 4);
  let at = 0;
  for (const p of parts) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    else for (let i = 0; i < p.length; i++) out.writeFloatLE(p[i] as number, at + i * 4);
    at += p.byteLength;
  }
  return out;
}
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** a BYTES tensor in binary form: each element a 4-byte little-endian length, then its bytes */
function bytesElements(items: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const b of items) {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

type OutputTensor = {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, unknown>;
} & ({ data: unknown[] } | { binary: Buffer });

/** The binary extension's response: the JSON header, then each binary output's bytes in order. */
function sendWithBinary(res: ServerResponse, head: Record<string, unknown>, outputs: OutputTensor[]): void {
  const binaries: Buffer[] = [];
  const described = outputs.map((o) => {
    if (!("binary" in o)) return o;
    const { binary, ...rest } = o;
    binaries.push(binary);
    return { ...rest, parameters: { ...(rest.parameters ?? {}), binary_data_size: binary.length } };
  });
  const json = Buffer.from(JSON.stringify({ ...head, outputs: described }));
  const body = Buffer.concat([json, ...binaries]);
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "content-length": body.length,
    "inference-header-content-length": json.length,
  });
  res.end(body);
}
