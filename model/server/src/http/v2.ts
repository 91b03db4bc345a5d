/**
 * Open Inference Protocol v2 (REST, JSON tensors), as KServe, Triton and Seldon speak it.
 * Infer takes the model's own input tensor (already preprocessed, per the card) and returns
 * its raw output tensor; image in / mask out is what /predictions is for.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BadInputError, NotFoundError, NotReadyError, UnsupportedMediaTypeError } from "../errors.ts";
import type { LoadedModel } from "../model/lifecycle.ts";
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
  sendJson(res, 200, { name: SERVER_NAME, version: "1", extensions: [] });
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
    parameters: { sha256: m.sha256, example: m.card.example === true },
  });
}

interface InferInput {
  name?: unknown;
  shape?: unknown;
  datatype?: unknown;
  data?: unknown;
}

export async function infer(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: ModelParams & { expectContinue: boolean },
): Promise<void> {
  const m = lookup(ctx, p);
  const type = mediaType(req);
  if (type !== undefined && type !== "application/json") {
    throw new UnsupportedMediaTypeError(
      `Content-Type ${type} not accepted: send JSON (binary tensors unsupported)`,
    );
  }
  const slot = ctx.queue.reserve();
  try {
    if (p.expectContinue) res.writeContinue();
    const body = await readBody(req, ctx.limits.maxJsonBytes);
    let request: { id?: unknown; inputs?: unknown; outputs?: unknown };
    try {
      request = JSON.parse(body.toString("utf8"));
    } catch (err) {
      throw new BadInputError(`body is not JSON: ${(err as Error).message}`);
    }
    if (request === null || typeof request !== "object" || Array.isArray(request)) {
      throw new BadInputError(`body must be a JSON object with "inputs", got ${jsonKind(request)}`);
    }
    const images = inputImages(m, request);
    checkRequestedOutputs(m, request.outputs);
    const outs = await Promise.all(images.map((x) => slot.submit(x)));
    const per = m.outputSize.width * m.outputSize.height;
    const data = new Array<number>(per * outs.length);
    outs.forEach((o, i) => {
      for (let j = 0; j < per; j++) data[i * per + j] = o.value[j] as number;
    });
    sendJson(res, 200, {
      model_name: m.spec.name,
      model_version: m.spec.version,
      ...(typeof request.id === "string" ? { id: request.id } : {}),
      outputs: [
        {
          name: m.spec.outputName,
          datatype: "FP32",
          shape: [outs.length, 1, m.outputSize.height, m.outputSize.width],
          data,
        },
      ],
    });
  } finally {
    slot.release();
  }
}

function inputImages(m: LoadedModel, request: { inputs?: unknown }): Float32Array[] {
  const { spec } = m;
  if (!Array.isArray(request.inputs) || request.inputs.length !== 1) {
    throw new BadInputError(`"inputs" must be an array with exactly one tensor ("${spec.inputName}")`);
  }
  const t = request.inputs[0] as InferInput | null;
  if (t === null || typeof t !== "object" || Array.isArray(t)) {
    throw new BadInputError(`"inputs"[0] must be a tensor object, got ${jsonKind(t)}`);
  }
  if (t.name !== spec.inputName)
    throw new BadInputError(`unknown input "${String(t.name)}"; expected "${spec.inputName}"`);
  if (t.datatype !== "FP32")
    throw new BadInputError(`input datatype must be FP32, got ${JSON.stringify(t.datatype)}`);
  const shape = t.shape;
  const want = [3, spec.height, spec.width];
  if (
    !Array.isArray(shape) ||
    shape.length !== 4 ||
    !Number.isInteger(shape[0]) ||
    shape[0] < 1 ||
    shape[0] > MAX_BATCH ||
    want.some((d, i) => shape[i + 1] !== d)
  ) {
    throw new BadInputError(
      `input shape must be [N,${want.join(",")}] with 1 <= N <= ${MAX_BATCH}, got ${JSON.stringify(shape)}`,
    );
  }
  const n = shape[0] as number;
  const per = 3 * spec.height * spec.width;
  const flat = Array.isArray(t.data) ? (t.data.flat(4) as unknown[]) : undefined;
  if (!flat || flat.length !== n * per) {
    throw new BadInputError(
      `input data must hold ${n * per} numbers (row-major), got ${flat?.length ?? "none"}`,
    );
  }
  const images: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const x = new Float32Array(per);
    for (let j = 0; j < per; j++) {
      const v = flat[i * per + j];
      if (typeof v !== "number" || !Number.isFinite(v))
        throw new BadInputError(`input data[${i * per + j}] is not a finite number`);
      x[j] = v;
    }
    images.push(x);
  }
  return images;
}

/** null, array, string, ...: what a JSON value is, for an error message. */
const jsonKind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);

function checkRequestedOutputs(m: LoadedModel, outputs: unknown): void {
  if (outputs === undefined) return;
  if (!Array.isArray(outputs)) throw new BadInputError(`"outputs" must be an array`);
  for (const o of outputs as { name?: unknown }[]) {
    if (o?.name !== m.spec.outputName) {
      throw new BadInputError(`unknown output "${String(o?.name)}"; the model has "${m.spec.outputName}"`);
    }
  }
}
