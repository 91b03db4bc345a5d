/**
 * TorchServe-compatible endpoints: POST /predictions/{model}[/{version}], GET /ping, and the
 * read-only part of its management API: GET /models, GET /models/{model}[/{version}].
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { NotFoundError } from "../errors.ts";
import { type InferenceSlot, predictImage } from "../predictor.ts";
import { checkDeclaredLength, imageBodyKind, readBody } from "./body.ts";
import type { AppContext } from "./context.ts";
import { sendJson } from "./errors.ts";
import { imagePart, parseMultipart } from "./multipart.ts";

export function ping(ctx: AppContext, _req: IncomingMessage, res: ServerResponse): void {
  if (ctx.host.ready) sendJson(res, 200, { status: "Healthy" });
  else sendJson(res, 503, { status: "Unhealthy", state: ctx.host.state });
}

export async function predictions(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: { model: string; version?: string; expectContinue: boolean },
): Promise<void> {
  // Everything that can refuse the request runs before a byte of the body is read.
  const model = ctx.host.require();
  if (params.model !== model.spec.name) throw new NotFoundError(`model "${params.model}" is not served here`);
  if (params.version !== undefined && params.version !== model.spec.version) {
    throw new NotFoundError(
      `model "${params.model}" version "${params.version}" is not served here (${model.spec.version} is)`,
    );
  }
  const bodyKind = imageBodyKind(req);
  checkDeclaredLength(req, ctx.limits.maxBodyBytes);
  ctx.queue.checkAdmission();
  const hold = ctx.uploads.hold();
  let slot: InferenceSlot | undefined;
  try {
    if (params.expectContinue) res.writeContinue();
    const body = await readBody(req, ctx.limits.maxBodyBytes, ctx.bodyRate, hold);
    slot = ctx.queue.reserve();
    const bytes = bodyKind.kind === "multipart" ? imagePart(parseMultipart(body, bodyKind.boundary)) : body;
    const p = await predictImage(
      ctx.host,
      bytes,
      slot,
      { maxPixels: ctx.limits.maxPixels },
      { exactPreprocess: ctx.exactPreprocess },
    );

    for (const [stage, ms] of Object.entries(p.timings)) {
      ctx.metrics.stageSeconds.observe({ stage }, ms / 1000);
    }
    ctx.metrics.coverage.observe(p.mask.coverage);
    // the shadow copy (if any) goes out only once this answer is sent
    if (ctx.shadow) {
      const { shadow } = ctx;
      res.once("finish", () => shadow.offer(model.spec.name, model.spec.version, bytes, p.mask));
    }

    const headers = {
      "x-model-name": p.model.name,
      "x-model-version": p.model.version,
      "x-mask-coverage": p.mask.coverage.toFixed(6),
    };
    if (wantsJson(req)) {
      sendJson(
        res,
        200,
        {
          model: p.model,
          width: p.mask.width,
          height: p.mask.height,
          coverage: p.mask.coverage,
          bbox: p.mask.bbox,
          mask: { contentType: "image/png", base64: p.png.toString("base64") },
          timings: Object.fromEntries(
            Object.entries(p.timings).map(([k, v]) => [k, Math.round(v * 100) / 100]),
          ),
        },
        headers,
      );
    } else {
      res.writeHead(200, { "content-type": "image/png", "content-length": p.png.length, ...headers });
      res.end(p.png);
    }
  } finally {
    slot?.release();
    hold.release();
  }
}

function wantsJson(req: IncomingMessage): boolean {
  return /\bapplication\/json\b/i.test(req.headers.accept ?? "");
}

/** TorchServe's `GET /models`: the registered models (one here), as TorchServe lists them. */
export function listModels(ctx: AppContext, _req: IncomingMessage, res: ServerResponse): void {
  const model = ctx.host.require();
  sendJson(res, 200, { models: [{ modelName: model.spec.name, modelUrl: `${model.spec.name}.onnx` }] });
}

/**
 * TorchServe's `GET /models/{model}[/{version}]` ("describe model"): an array with one entry per
 * version (one here), TorchServe's field names; workers are ONNX Runtime sessions.
 */
export function describeModel(
  ctx: AppContext,
  _req: IncomingMessage,
  res: ServerResponse,
  p: { model: string; version?: string },
): void {
  const model = ctx.host.require();
  if (p.model !== model.spec.name) throw new NotFoundError(`Model not found: ${p.model}`);
  if (p.version !== undefined && p.version !== model.spec.version) {
    throw new NotFoundError(
      `Model version not found: ${p.model} ${p.version} (${model.spec.version} is served)`,
    );
  }
  sendJson(res, 200, [
    {
      modelName: model.spec.name,
      modelVersion: model.spec.version,
      modelUrl: `${model.spec.name}.onnx`,
      runtime: "onnxruntime-node",
      loadedAtStartup: true,
      workers: [{ id: "1", status: ctx.host.ready ? "READY" : "UNLOADING" }],
      // beyond TorchServe's fields: which file this is
      sha256: model.sha256,
      precision: model.precision,
    },
  ]);
}
