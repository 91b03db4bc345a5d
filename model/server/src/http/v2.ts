/**
 * Open Inference Protocol v2 (REST, JSON tensors), as KServe, Triton and Seldon speak it.
 * Infer takes the model's own input tensor (already preprocessed, per the card) and returns
 * its raw output tensor; or, as a BYTES input, the encoded photos themselves (base64 JPEG/PNG,
 * KServe's and Triton's image convention), answered with a PNG mask and the coverage per photo.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { NotFoundError, NotReadyError, UnsupportedMediaTypeError } from "../errors.ts";
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
  const type = mediaType(req);
  if (type !== undefined && type !== "application/json") {
    throw new UnsupportedMediaTypeError(
      `Content-Type ${type} not accepted: send JSON (binary tensors unsupported)`,
    );
  }
  ctx.queue.checkAdmission();
  const hold = ctx.uploads.hold();
  let slot: InferenceSlot | undefined;
  try {
    if (p.expectContinue) res.writeContinue();
    const body = await readBody(req, ctx.limits.maxJsonBytes, ctx.bodyRate, hold);
    const { spec } = m;
    const request = await ctx.json.parse(body, {
      inputName: spec.inputName,
      outputName: spec.outputName,
      height: spec.height,
      width: spec.width,
      maxBatch: MAX_BATCH,
    });
    if (request.photos) {
      await inferPhotos(ctx, res, m, request.photos, request.id);
      return;
    }
    slot = ctx.queue.reserve();
    const images = request.images;
    const outs = await Promise.all(images.map((x) => (slot as InferenceSlot).submit(x)));
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
): Promise<void> {
  const masks: string[] = [];
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
      masks.push(p.png.toString("base64"));
      coverage.push(p.mask.coverage);
    } finally {
      slot.release();
    }
  }
  sendJson(res, 200, {
    model_name: m.spec.name,
    model_version: m.spec.version,
    ...(id !== undefined ? { id } : {}),
    outputs: [
      {
        name: "mask",
        datatype: "BYTES",
        shape: [photos.length],
        parameters: { content_type: "image/png" },
        data: masks,
      },
      { name: "coverage", datatype: "FP32", shape: [photos.length], data: coverage },
    ],
  });
}
