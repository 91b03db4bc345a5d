/**
 * The decode at the model's scale (issue 30): the DCT scale chosen, that it is the default, and
 * that --exact-preprocess gives back the exact path byte for byte. Its accuracy is measured by
 * masks on the dataset (npm run bench:decode, docs/benchmarks/server.md), not here.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import type { InferenceSpec } from "../src/model/card.ts";
import { decodeForModel, decodeImage, jpegShrinkOnLoad } from "../src/model/decode.ts";
import type { ModelHost } from "../src/model/lifecycle.ts";
import { preprocess } from "../src/model/preprocess.ts";
import { type InferenceSlot, predictImage } from "../src/predictor.ts";
import { DEFAULTS } from "../src/server.ts";
import { jpegPhoto, pngImage } from "./support/images.ts";
import { modelUnavailable, REPO_ROOT, untrainedModel } from "./support/model.ts";
import { testServer } from "./support/server.ts";

const run = promisify(execFile);

const SPEC: InferenceSpec = {
  name: "wms",
  version: "1.0.0",
  inputName: "input",
  outputName: "logits",
  width: 512,
  height: 512,
  fixedBatch: null,
  exifTranspose: true,
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  activation: "sigmoid",
  threshold: 0.5,
  resizeBack: "bilinear",
};
const LIMITS = { maxPixels: 50_000_000 };

/** predictImage with a stand-in host and slot: what reached the model, and the prediction. */
async function predictCapturing(bytes: Buffer, opts: { exactPreprocess?: boolean } = {}) {
  const host = {
    require: () => ({ spec: SPEC, outputSize: { width: 512, height: 512 }, sha256: "0".repeat(64) }),
    inputBuffer: () => undefined,
  } as unknown as ModelHost;
  let tensor: Float32Array | undefined;
  const slot = {
    prepare: async <T>(fn: () => Promise<T>) => ({ value: await fn(), waitedMs: 0 }),
    submit: async (x: Float32Array) => {
      tensor = x;
      return { value: new Float32Array(512 * 512), waitedMs: 0 };
    },
    release: () => {},
  } as unknown as InferenceSlot;
  const p = await predictImage(host, bytes, slot, LIMITS, opts);
  return { p, tensor: tensor as Float32Array };
}

const bytesOf = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe("jpegShrinkOnLoad: the smallest DCT scale at or above the model input", () => {
  it.each([
    // [stored width, height, scale]; 512 x 512 model
    [1000, 1333, 1], // the dataset's photos: 1/2 would be 500 px, below 512
    [1024, 1024, 1], // exactly 2x: sharp decodes one scale larger (libjpeg's edge rounding)
    [1536, 2048, 2],
    [2000, 2666, 2],
    [3000, 4000, 4], // a 12 MP phone photo: 750 x 1000 decoded instead of 3000 x 4000
    [4000, 3000, 4],
    [4608, 6144, 8],
    [300, 200, 1], // smaller than the model: never shrunk
  ])("%i x %i -> 1/%i", (w, h, s) => {
    const scale = jpegShrinkOnLoad(w, h, { width: 512, height: 512 });
    expect(scale).toBe(s);
    expect(Math.ceil(w / scale)).toBeGreaterThanOrEqual(Math.min(w, 512));
    expect(Math.ceil(h / scale)).toBeGreaterThanOrEqual(Math.min(h, 512));
  });
});

describe("the fast decode is the default", () => {
  let large: Buffer;
  beforeAll(async () => {
    // stored 4000 x 3000, displayed 3000 x 4000 (EXIF orientation 6)
    large = await jpegPhoto(4000, 3000, 6);
  });

  it("decodes a large JPEG at 1/4 by libjpeg's DCT scaling, straight to the model's size", async () => {
    const fast = await decodeForModel(large, SPEC, LIMITS);
    expect(fast.shrink).toBe(4);
    expect([fast.decoded.width, fast.decoded.height]).toEqual([512, 512]);
    expect(fast.displayed).toEqual({ width: 3000, height: 4000 });
    // the pixels are libvips' shrink-on-load ones: the same pipeline without it differs
    const pipe = (fastShrinkOnLoad: boolean) =>
      sharp(large, { autoOrient: true })
        .resize(512, 512, { fit: "fill", kernel: "linear", fastShrinkOnLoad })
        .removeAlpha()
        .toColourspace("srgb")
        .raw()
        .toBuffer();
    expect(fast.decoded.data.equals(await pipe(true))).toBe(true);
    expect(fast.decoded.data.equals(await pipe(false))).toBe(false);
  });

  it("predictImage feeds the model the fast decode unless told otherwise; the mask is at the displayed size", async () => {
    const { p, tensor } = await predictCapturing(large);
    expect(p.shrink).toBe(4);
    expect([p.mask.width, p.mask.height]).toEqual([3000, 4000]);
    expect([p.image.width, p.image.height]).toEqual([3000, 4000]);
    const fast = await preprocess((await decodeForModel(large, SPEC, LIMITS)).decoded, SPEC);
    expect(bytesOf(tensor).equals(bytesOf(fast))).toBe(true);
    expect(DEFAULTS).not.toHaveProperty("exactPreprocess"); // off unless --exact-preprocess
  });

  it("--exact-preprocess restores byte parity with the exact path (full-size decode, Pillow's resize)", async () => {
    for (const photo of [large, await jpegPhoto(1000, 1333), await pngImage(700, 900)]) {
      const { p, tensor } = await predictCapturing(photo, { exactPreprocess: true });
      const exact = await preprocess(await decodeImage(photo, SPEC, LIMITS), SPEC);
      expect(p.shrink).toBe(1);
      expect(bytesOf(tensor).equals(bytesOf(exact))).toBe(true);
    }
    // and the default does not (else this test could not tell the paths apart)
    const { tensor } = await predictCapturing(large);
    const exact = await preprocess(await decodeImage(large, SPEC, LIMITS), SPEC);
    expect(bytesOf(tensor).equals(bytesOf(exact))).toBe(false);
  });

  it("PNG keeps the exact path (the fast decode was measured on JPEG only)", async () => {
    const png = await pngImage(1600, 1200);
    const { tensor } = await predictCapturing(png);
    const exact = await preprocess(await decodeImage(png, SPEC, LIMITS), SPEC);
    expect(bytesOf(tensor).equals(bytesOf(exact))).toBe(true);
  });

  it("refuses what the exact path refuses: too many pixels, a truncated JPEG, too many scans", async () => {
    await expect(decodeForModel(large, SPEC, { maxPixels: 4000 * 3000 - 1 })).rejects.toMatchObject({
      kind: "too_large",
    });
    await expect(decodeForModel(large.subarray(0, large.length >> 1), SPEC, LIMITS)).rejects.toMatchObject({
      kind: "bad_input",
    });
  });
});

// Skipped only without the Python venv (the test model is exported by the training package).
const skip = modelUnavailable();
if (skip) console.warn(`SKIP the served-decode test: ${skip}`);

describe("serve --exact-preprocess", () => {
  it("is an option of serve (refused only for the missing --model)", async () => {
    const cli = join(REPO_ROOT, "model/server/src/cli.ts");
    const r = await run(process.execPath, ["--import", "tsx", cli, "serve", "--exact-preprocess"], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(r).toMatchObject({ code: 2 });
    expect((r as { stderr: string }).stderr).toMatch(/^Error: --model is required$/m);
  }, 90_000);

  // Skipped only where no ONNX model can be exported (no training venv): the server needs one to start.
  it.skipIf(skip !== null)(
    "the server says which decode it serves with: fast by default, exact when asked",
    async () => {
      const files = await untrainedModel();
      for (const [opts, want] of [
        [{}, "fast"],
        [{ exactPreprocess: true }, "exact"],
      ] as const) {
        const lines: Record<string, unknown>[] = [];
        const s = await testServer({
          model: files.model,
          threads: 1,
          ...opts,
          log: (_level, msg, fields) => lines.push({ msg, ...fields }),
        });
        try {
          await s.loaded;
        } finally {
          await s.shutdown();
        }
        expect(lines.find((l) => l.msg === "model ready")?.preprocess).toBe(want);
      }
    },
    180_000,
  );
});
