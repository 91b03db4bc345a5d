/**
 * Serving the int8 variant of release 1.1.0: the server tells which of the card's artifacts it
 * was given (fp32 or int8) by its digest, reports it in /v2/models/wms and wms_model_info, and
 * its masks agree with the fp32 server's on dataset photos.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server.ts";
import { maskIou } from "../src/shadow.ts";
import {
  datasetImages,
  datasetUnavailable,
  modelUnavailable,
  shippedReleaseModels,
} from "./support/model.ts";
import { testServer } from "./support/server.ts";

const v110 = shippedReleaseModels().find((r) => basename(r.dir) === "1.1.0");
const int8Model = v110 ? join(v110.dir, "model.int8.onnx") : "";
const skip =
  modelUnavailable() ??
  (v110 && existsSync(int8Model) ? null : "release 1.1.0 with model.onnx and model.int8.onnx not found");
if (skip) console.warn(`SKIP int8 serving tests: ${skip}`);
// only the agreement test needs the photos
const noPhotos = datasetUnavailable();
if (!skip && noPhotos) console.warn(`SKIP int8 mask agreement: ${noPhotos}`);

/** masks of int8 and fp32 on the same photo: IoU at least this on every photo... */
const MIN_AGREEMENT = 0.95;
/** ...and at least this on average (the release's own study: docs/benchmarks/int8.md) */
const MEAN_AGREEMENT = 0.99;

/** the server's mask (a PNG, 0/255) as one byte per pixel */
async function mask(server: RunningServer, photo: Buffer): Promise<Uint8Array> {
  const r = await fetch(`${server.url}/predictions/wms`, { method: "POST", body: photo });
  expect(r.status).toBe(200);
  const png = Buffer.from(await r.arrayBuffer());
  return new Uint8Array(await sharp(png).extractChannel(0).raw().toBuffer());
}

describe.skipIf(skip !== null)("int8 serving", () => {
  let fp32: RunningServer;
  let int8: RunningServer;
  const card = () => (v110 as { card: string }).card;

  beforeAll(async () => {
    const c = JSON.parse(readFileSync(card(), "utf8"));
    fp32 = await testServer({ model: (v110 as { model: string }).model, card: card(), threads: 1 });
    int8 = await testServer({ model: int8Model, card: card(), sha256: c.variants.int8.sha256, threads: 1 });
    await Promise.all([fp32.loaded, int8.loaded]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([fp32?.shutdown(), int8?.shutdown()]);
  });

  it("reports its precision in the v2 metadata and the model info metric", async () => {
    const meta = (await (await fetch(`${int8.url}/v2/models/wms`)).json()) as {
      parameters: { precision: string; sha256: string };
    };
    const c = JSON.parse(readFileSync(card(), "utf8"));
    expect(meta.parameters).toMatchObject({ precision: "int8", sha256: c.variants.int8.sha256 });
    const fp32Meta = (await (await fetch(`${fp32.url}/v2/models/wms`)).json()) as typeof meta;
    expect(fp32Meta.parameters).toMatchObject({ precision: "fp32", sha256: c.artifact.sha256 });
    const text = await (await fetch(`${int8.metricsUrl}/metrics`)).text();
    expect(text).toMatch(/^wms_model_info\{[^}]*version="1\.1\.0"[^}]*precision="int8"[^}]*\} 1$/m);
  });

  it.skipIf(noPhotos !== null)(
    `draws masks that agree with fp32's on dataset photos (IoU >= ${MIN_AGREEMENT} each, mean >= ${MEAN_AGREEMENT})`,
    {
      timeout: 180_000,
    },
    async () => {
      // every 20th photo: 38 photos from all three splits
      const photos = datasetImages()
        .filter((_, i) => i % 20 === 0)
        .map((f) => readFileSync(f));
      const ious: number[] = [];
      for (const photo of photos) ious.push(maskIou(await mask(fp32, photo), await mask(int8, photo)));
      const mean = ious.reduce((a, b) => a + b, 0) / ious.length;
      console.log(
        `int8 vs fp32 mask IoU on ${ious.length} photos: mean ${mean.toFixed(4)}, min ${Math.min(...ious).toFixed(4)}`,
      );
      expect(Math.min(...ious)).toBeGreaterThanOrEqual(MIN_AGREEMENT);
      expect(mean).toBeGreaterThanOrEqual(MEAN_AGREEMENT);
      expect(mean).toBeLessThan(1); // a different model, not the fp32 file twice
    },
  );

  it("without --sha256, tells the precision from the file's digest; a file the card does not list never loads", async () => {
    const s = await testServer({ model: int8Model, card: card(), threads: 1 });
    try {
      await s.loaded;
      const meta = (await (await fetch(`${s.url}/v2/models/wms`)).json()) as {
        parameters: { precision: string };
      };
      expect(meta.parameters.precision).toBe("int8");
    } finally {
      await s.shutdown();
    }
    const dir = mkdtempSync(join(tmpdir(), "wms-int8-"));
    const other = join(dir, "model.int8.onnx");
    const bytes = readFileSync(int8Model);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    writeFileSync(other, bytes);
    const bad = await testServer({ model: other, card: card(), threads: 1 });
    try {
      await expect(bad.loaded).rejects.toThrow(
        /model\.int8\.onnx: sha256 [0-9a-f]{64} does not match the card: it lists artifact\.sha256 [0-9a-f]{64} \(fp32\), variants\.int8\.sha256 [0-9a-f]{64} \(int8\)/,
      );
      expect((await fetch(`${bad.url}/ping`)).status).not.toBe(200);
    } finally {
      await bad.shutdown();
    }
  });
});
