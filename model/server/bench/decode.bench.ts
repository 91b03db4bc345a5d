/**
 * npm run bench:decode [-- --model latest | <path/to/model.onnx>] [--upscale 2] [--limit N]
 *
 * The fast decode (decode.ts: JPEG decoded at libjpeg's smallest DCT scale at or above the model
 * input, resized by libvips) accepted by masks, not bytes: on the dataset's val and test photos
 * (training's split, data.py split_of), the release's fp32 model through the server's own
 * pre/postprocessing, once with the exact path (full-size decode, Pillow's resize) and once
 * with the fast one. Prints the mean mask IoU fast vs exact, and each path's mean IoU against
 * the ground truth per split beside the model card's. The gate (issue 30): fast vs exact >= 0.995
 * and |fast - card| <= 0.002 on val and on test; the exit code is 1 when it fails.
 *
 * --upscale F also runs every photo re-encoded F times larger (JPEG quality 95), masks compared
 * at the photo's original size: the dataset's photos (short side 1000 px) are decoded at full
 * scale by the rule (1/2 would be 500 px < 512), so this is where the DCT scaling itself is measured.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import sharp from "sharp";
import { inferenceSpec, parseCard } from "../src/model/card.ts";
import { decodeForModel, decodeImage, type ModelInputImage } from "../src/model/decode.ts";
import { postprocess } from "../src/model/postprocess.ts";
import { preprocess } from "../src/model/preprocess.ts";
import {
  DATASET_DIR,
  datasetImages,
  datasetUnavailable,
  newestShippedRelease,
} from "../test/support/model.ts";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "latest" },
    upscale: { type: "string" },
    limit: { type: "string" },
    threads: { type: "string", default: String(availableParallelism()) },
  },
});

/** training's split (model/training/wms_training/data.py split_of): sha256 of the file stem */
export function splitOf(stem: string, train = 0.7, val = 0.15): "train" | "val" | "test" {
  const u = Number.parseInt(createHash("sha256").update(stem).digest("hex").slice(0, 8), 16) / 2 ** 32;
  return u < train ? "train" : u < train + val ? "val" : "test";
}

/** training's iou_dice: both empty counts as a perfect match */
function iou(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`mask sizes differ: ${a.length} vs ${b.length}`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const p = (a[i] as number) !== 0;
    const q = (b[i] as number) !== 0;
    if (p && q) inter++;
    if (p || q) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** training's load_mask: EXIF-oriented, as Pillow's "L", >= 127 */
async function groundTruth(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file).autoOrient().raw().toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  const out = new Uint8Array(n);
  const c = info.channels;
  for (let i = 0; i < n; i++) {
    // Pillow's RGB -> L: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
    const l =
      c >= 3
        ? ((data[i * c] as number) * 19595 +
            (data[i * c + 1] as number) * 38470 +
            (data[i * c + 2] as number) * 7471 +
            0x8000) >>
          16
        : (data[i * c] as number);
    out[i] = l >= 127 ? 1 : 0;
  }
  return { data: out, width: info.width, height: info.height };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function main() {
  const missing = datasetUnavailable();
  if (missing) throw new Error(missing);
  const modelPath = resolve(args.model === "latest" ? newestShippedRelease() : (args.model as string));
  const cardPath = join(dirname(modelPath), "model-card.json");
  const card = parseCard(readFileSync(cardPath, "utf8"), cardPath);
  const spec = inferenceSpec(card);
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: Number(args.threads),
    interOpNumThreads: 1,
  });
  const infer = async (x: Float32Array) => {
    const out = await session.run({
      [spec.inputName]: new ort.Tensor("float32", x, [1, 3, spec.height, spec.width]),
    });
    const t = out[spec.outputName] as ort.Tensor;
    const [, , h, w] = t.dims as number[];
    return { logits: t.data as Float32Array, width: w as number, height: h as number };
  };
  const maskOf = async (input: ModelInputImage, size: { width: number; height: number }) => {
    const x = await preprocess(input.decoded, spec);
    const o = await infer(x);
    return postprocess(o.logits, { ...spec, width: o.width, height: o.height }, size).data;
  };
  const limits = { maxPixels: 200_000_000 };
  const upscale = args.upscale ? Number(args.upscale) : undefined;
  const files = datasetImages()
    .map((f) => ({ file: f, split: splitOf(basename(f, extname(f))) }))
    .filter((p) => p.split !== "train")
    .slice(0, args.limit ? Number(args.limit) : undefined);
  type Row = { split: string; exactGt: number; fastGt: number; fastExact: number; shrink: number };
  const rows: Row[] = [];
  const big: Row[] = [];
  const shrinks = new Map<number, number>();
  const t0 = performance.now();
  console.log(
    `load average before: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(", ")}`,
  );
  for (const { file, split } of files) {
    const bytes = await readFile(file);
    const gt = await groundTruth(join(DATASET_DIR, "masks", basename(file)));
    const exactImg = await decodeImage(bytes, spec, limits);
    const size = { width: exactImg.width, height: exactImg.height };
    if (size.width !== gt.width || size.height !== gt.height) throw new Error(`${file}: mask size differs`);
    const exact = await maskOf({ decoded: exactImg, displayed: size, shrink: 1 }, size);
    const fastIn = await decodeForModel(bytes, spec, limits);
    if (fastIn.displayed.width !== size.width || fastIn.displayed.height !== size.height)
      throw new Error(
        `${file}: the fast decode reports ${JSON.stringify(fastIn.displayed)}, not ${JSON.stringify(size)}`,
      );
    shrinks.set(fastIn.shrink, (shrinks.get(fastIn.shrink) ?? 0) + 1);
    const fast = await maskOf(fastIn, size);
    rows.push({
      split,
      exactGt: iou(exact, gt.data),
      fastGt: iou(fast, gt.data),
      fastExact: iou(fast, exact),
      shrink: fastIn.shrink,
    });
    if (upscale) {
      // the same photo, larger (as displayed, no EXIF tag left), masks at the original size
      const larger = await sharp(exactImg.data, {
        raw: { width: size.width, height: size.height, channels: 3 },
      })
        .resize(Math.round(size.width * upscale), Math.round(size.height * upscale), { kernel: "lanczos3" })
        .jpeg({ quality: 95 })
        .toBuffer();
      const bigExact = await maskOf(
        { decoded: await decodeImage(larger, spec, limits), displayed: size, shrink: 1 },
        size,
      );
      const bigFastIn = await decodeForModel(larger, spec, limits);
      const bigFast = await maskOf(bigFastIn, size);
      big.push({
        split,
        exactGt: iou(bigExact, gt.data),
        fastGt: iou(bigFast, gt.data),
        fastExact: iou(bigFast, bigExact),
        shrink: bigFastIn.shrink,
      });
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const report = (label: string, rs: Row[]) => {
    let ok = true;
    const all = mean(rs.map((r) => r.fastExact));
    const worst = Math.min(...rs.map((r) => r.fastExact));
    const scales = [...new Set(rs.map((r) => r.shrink))]
      .sort()
      .map((s) => `1/${s}: ${rs.filter((r) => r.shrink === s).length}`)
      .join(", ");
    console.log(`\n${label}: ${rs.length} photos (decode scales ${scales})`);
    console.log(
      `  mask IoU fast vs exact: mean ${all.toFixed(5)} (gate >= 0.995), worst ${worst.toFixed(4)}`,
    );
    if (!(all >= 0.995)) ok = false;
    for (const split of ["val", "test"] as const) {
      const s = rs.filter((r) => r.split === split);
      const cardIou = card.metrics?.[split]?.iou as number | undefined;
      const fast = mean(s.map((r) => r.fastGt));
      const exact = mean(s.map((r) => r.exactGt));
      const diff = cardIou === undefined ? Number.NaN : fast - cardIou;
      console.log(
        `  ${split} (n=${s.length}): IoU vs ground truth fast ${fast.toFixed(5)}, exact ${exact.toFixed(5)}, card ${cardIou?.toFixed(5)} ` +
          `(fast - card ${diff >= 0 ? "+" : ""}${diff.toFixed(5)}, gate |.| <= 0.002)`,
      );
      if (!(Math.abs(diff) <= 0.002)) ok = false;
    }
    console.log(`  gate: ${ok ? "PASS" : "FAIL"}`);
    return ok;
  };
  console.log(
    `model ${card.name} ${card.version} fp32 (${modelPath}), ${args.threads} threads; ${seconds.toFixed(0)} s`,
  );
  const ok = report("dataset photos as they are", rows);
  if (upscale)
    report(`the same photos re-encoded ${upscale}x larger (JPEG q95), masks at the original size`, big);
  console.log(
    `\nload average after: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(", ")} (${availableParallelism()} CPUs)`,
  );
  if (!ok) process.exitCode = 1;
}

await main();
