/** Pure pieces: queue, multipart, sniffing, card checks, the resize-back filter. */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { OverloadedError } from "../src/errors.ts";
import { imagePart, parseMultipart } from "../src/http/multipart.ts";
import { Float32Pool } from "../src/model/buffer-pool.ts";
import { inferenceSpec, type ModelCard, parseCard } from "../src/model/card.ts";
import { sniffFormat } from "../src/model/decode.ts";
import { pillowBilinearRgb, pillowBilinearRgbJs } from "../src/model/pillow-resize.ts";
import { activate, encodeMaskPng, type Mask, resizeAndThreshold } from "../src/model/postprocess.ts";
import { normalizeToChw } from "../src/model/preprocess.ts";
import { BatchQueue } from "../src/queue.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("BatchQueue", () => {
  it("admits capacity + maxBatch requests, then refuses at once with a Retry-After", async () => {
    const q = new BatchQueue<number, number>({ capacity: 2, maxBatch: 1, maxDelayMs: 0 }, async (xs) => xs);
    const slots = [q.reserve(), q.reserve(), q.reserve()];
    const t0 = performance.now();
    let err: unknown;
    try {
      q.reserve();
    } catch (e) {
      err = e;
    }
    expect(performance.now() - t0).toBeLessThan(5);
    expect(err).toBeInstanceOf(OverloadedError);
    expect((err as OverloadedError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    slots[0]?.release();
    slots[0]?.release(); // idempotent: one release per slot
    expect(() => q.reserve()).not.toThrow();
    expect(() => q.reserve()).toThrow(OverloadedError);
  });

  it("batches items that arrive within maxDelayMs, up to maxBatch, and reports the wait", async () => {
    const batches: number[][] = [];
    const q = new BatchQueue<number, number>({ capacity: 8, maxBatch: 3, maxDelayMs: 30 }, async (xs) => {
      batches.push(xs);
      await sleep(20);
      return xs.map((x) => x * 10);
    });
    const slots = Array.from({ length: 5 }, () => q.reserve());
    const outs = await Promise.all(slots.map((s, i) => s.submit(i)));
    expect(outs.map((o) => o.value)).toEqual([0, 10, 20, 30, 40]);
    expect(batches).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
    // The second batch waited for the first to run.
    expect(outs[4]?.waitedMs).toBeGreaterThanOrEqual(15);
  });

  it("rejects every item of a failed batch and keeps serving", async () => {
    let fail = true;
    const q = new BatchQueue<number, number>({ capacity: 4, maxBatch: 2, maxDelayMs: 0 }, async (xs) => {
      if (fail) throw new Error("boom");
      return xs;
    });
    await expect(q.reserve().submit(1)).rejects.toThrow("boom");
    fail = false;
    await expect(q.reserve().submit(2)).resolves.toMatchObject({ value: 2 });
  });
});

describe("BatchQueue preparation turns", () => {
  it("prepares only `prefetch` items ahead of inference, first come first served", async () => {
    const events: string[] = [];
    let finishRun: (() => void) | undefined;
    const q = new BatchQueue<number, number>(
      { capacity: 8, maxBatch: 1, maxDelayMs: 0, prefetch: 1, pipeline: 1 },
      async (xs) => {
        events.push(`run ${xs[0]}`);
        await new Promise<void>((r) => {
          finishRun = r;
        });
        return xs;
      },
    );
    const request = async (n: number) => {
      const slot = q.reserve();
      try {
        const { value } = await slot.prepare(async () => {
          events.push(`prepare ${n}`);
          await sleep(5);
          return n;
        });
        return (await slot.submit(value)).value;
      } finally {
        slot.release();
      }
    };
    const all = [request(1), request(2), request(3)];
    await sleep(30);
    // 1 is running; 2 was prepared once 1 started; 3 waits for 2 to start
    expect(events).toEqual(["prepare 1", "run 1", "prepare 2"]);
    finishRun?.();
    await sleep(30);
    expect(events).toEqual(["prepare 1", "run 1", "prepare 2", "run 2", "prepare 3"]);
    finishRun?.();
    await sleep(30);
    finishRun?.();
    expect(await Promise.all(all)).toEqual([1, 2, 3]);
  });

  it("passes the turn on when preparation fails or the slot is released unsubmitted", async () => {
    const q = new BatchQueue<number, number>(
      { capacity: 8, maxBatch: 1, maxDelayMs: 0, prefetch: 1 },
      async (xs) => xs,
    );
    const a = q.reserve();
    await expect(a.prepare(async () => Promise.reject(new Error("bad photo")))).rejects.toThrow("bad photo");
    a.release();
    const b = q.reserve();
    await b.prepare(async () => 1); // turn held, never submitted
    const c = q.reserve();
    let cPrepared = false;
    const cDone = c.prepare(async () => {
      cPrepared = true;
      return 2;
    });
    await sleep(10);
    expect(cPrepared).toBe(false);
    b.release();
    await expect(cDone).resolves.toMatchObject({ value: 2 });
    expect((await c.submit(2)).value).toBe(2);
    c.release();
  });

  it("hands `pipeline` batches to the worker at once and counts the wait behind the other as queueing", async () => {
    const handed: number[] = [];
    let busy = Promise.resolve();
    // a serial worker: each batch runs 40 ms after the one before it has ended
    const q = new BatchQueue<number, number>(
      { capacity: 8, maxBatch: 1, maxDelayMs: 0, pipeline: 2 },
      (xs, run0) => {
        handed.push(xs[0] as number);
        const run = busy
          .then(() => {
            run0.started();
            return sleep(40);
          })
          .then(() => xs);
        busy = run.then(() => undefined);
        return run;
      },
    );
    const submit = (n: number) => {
      const slot = q.reserve();
      return slot.submit(n).finally(() => slot.release());
    };
    const done = [submit(1), submit(2), submit(3)];
    await sleep(10);
    expect(handed).toEqual([1, 2]); // the second waits in the worker, the third here
    expect(q.depth).toBe(2); // both still wait: only the running batch is out of the queue
    const [a, b, c] = await Promise.all(done);
    expect(handed).toEqual([1, 2, 3]);
    // waits for nothing but timers (20.5 ms once beside an e2e run); b waits behind a's 40 ms
    expect(a?.waitedMs).toBeLessThan(28);
    expect(b?.waitedMs).toBeGreaterThanOrEqual(30); // behind 1, though handed over at once
    expect(b?.ranMs).toBeLessThan(70);
    expect(c?.waitedMs).toBeGreaterThanOrEqual(70);
  });

  it("refuses a prefetch smaller than the batch", () => {
    expect(
      () =>
        new BatchQueue<number, number>(
          { capacity: 1, maxBatch: 4, maxDelayMs: 0, prefetch: 2 },
          async (xs) => xs,
        ),
    ).toThrow(/prefetch 2 must be/);
  });
});

describe("Float32Pool", () => {
  it("hands a given-back buffer out again, up to `keep`, and only whole buffers of its length", () => {
    const pool = new Float32Pool(4, 2);
    const a = pool.take();
    a[0] = 7;
    pool.give(a);
    pool.give(a); // twice: kept once
    expect(pool.size).toBe(1);
    expect(pool.take()).toBe(a);
    pool.give(new Float32Array(5));
    pool.give(new Float32Array(8).subarray(0, 4));
    pool.give(undefined);
    expect(pool.size).toBe(0);
    pool.give(new Float32Array(4));
    pool.give(new Float32Array(4));
    pool.give(new Float32Array(4));
    expect(pool.size).toBe(2);
    expect(pool.take()).not.toBe(a);
  });
});

describe("multipart", () => {
  const body = (parts: string[], boundary = "XyZ") =>
    Buffer.from(`${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join("")}--${boundary}--\r\n`, "latin1");

  it("finds the file part whatever the field order", () => {
    const b = body([
      'Content-Disposition: form-data; name="note"\r\n\r\nhello',
      'Content-Disposition: form-data; name="upload"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\r\n--not-the-boundary',
    ]);
    expect(imagePart(parseMultipart(b, "XyZ")).toString("latin1")).toBe("\xff\xd8\xff\r\n--not-the-boundary");
  });

  it("takes a TorchServe-style 'data' field without a filename", () => {
    const b = body(['Content-Disposition: form-data; name="data"\r\n\r\nPNGBYTES']);
    expect(imagePart(parseMultipart(b, "XyZ")).toString()).toBe("PNGBYTES");
  });

  it("refuses multipart without a file, and truncated multipart", () => {
    const noFile = body(['Content-Disposition: form-data; name="note"\r\n\r\nhello']);
    expect(() => imagePart(parseMultipart(noFile, "XyZ"))).toThrow(/no file part/);
    expect(() =>
      parseMultipart(Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="data"\r\n\r\nabc'), "XyZ"),
    ).toThrow(/truncated/);
  });
});

describe("format sniffing", () => {
  it("knows PNG and JPEG by magic bytes only", () => {
    expect(sniffFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe("jpeg");
    expect(sniffFormat(Buffer.from("\x89PNG\r\n\x1a\n", "latin1"))).toBe("png");
    expect(sniffFormat(Buffer.from("GIF89a"))).toBeNull();
    expect(sniffFormat(Buffer.from("II*\0"))).toBeNull();
    expect(sniffFormat(Buffer.from("\x89PNG\r\n", "latin1"))).toBeNull(); // truncated signature
  });
});

describe("model card", () => {
  const base = () =>
    JSON.parse(readFileSync(new URL("./support/card.example.json", import.meta.url), "utf8")) as ModelCard;

  it("takes size, normalisation and threshold from the card, not from constants", () => {
    const card = base();
    card.io.input.shape = [-1, 3, 256, 320];
    card.io.input.preprocessing.resize = {
      width: 320,
      height: 256,
      mode: "stretch",
      interpolation: "bilinear",
    };
    card.io.output.threshold = 0.7;
    const spec = inferenceSpec(parseCard(JSON.stringify(card), "card"));
    expect(spec).toMatchObject({
      width: 320,
      height: 256,
      threshold: 0.7,
      fixedBatch: null,
      resizeBack: "bilinear",
    });
  });

  it("reports every schema problem with its path", () => {
    const card = base();
    card.io.output.threshold = 2;
    card.artifact.sha256 = "xyz";
    expect(() => parseCard(JSON.stringify(card), "card.json")).toThrow(
      /\[\/artifact\/sha256\][\s\S]*\[\/io\/output\/threshold\]/,
    );
  });

  it("refuses a card whose input shape disagrees with its resize", () => {
    const card = base();
    card.io.input.shape = [-1, 3, 512, 256];
    expect(() => inferenceSpec(parseCard(JSON.stringify(card), "card"))).toThrow(/disagrees/);
  });
});

describe("the Pillow resize in WebAssembly", () => {
  it("is byte for byte the JavaScript reference, shrinking, enlarging, odd sizes, sizes in turn", () => {
    let seed = 3;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed >>> 23;
    };
    for (const [inW, inH, outW, outH] of [
      [1000, 1333, 512, 512],
      [640, 480, 256, 256],
      [101, 77, 333, 517], // enlarging, a row length that is not a multiple of 4
      [9, 13, 3, 2],
      [1, 1, 5, 4],
      [512, 512, 512, 512],
      // sizes that differ in one dimension only, each after the other (the kept coefficients
      // are per input and output size), and the first size again
      [1000, 1333, 512, 384],
      [1000, 1333, 384, 512],
      [1000, 1000, 512, 512],
      [1000, 1333, 512, 512],
    ] as const) {
      const src = Uint8Array.from({ length: inW * inH * 3 }, (_, i) => (i % 97 < 3 ? 255 : rand()));
      const got = pillowBilinearRgb(src, inW, inH, outW, outH);
      const want = pillowBilinearRgbJs(src, inW, inH, outW, outH);
      expect(Buffer.from(got).equals(Buffer.from(want)), `${inW}x${inH} -> ${outW}x${outH}`).toBe(true);
    }
  });

  it("lets go of the memory a very large photo needed, and keeps working", () => {
    const big = new Uint8Array(4800 * 5000 * 3).fill(200); // 72 MB: more than the module keeps
    expect(pillowBilinearRgb(big, 4800, 5000, 64, 64).every((v) => v === 200)).toBe(true);
    const small = Uint8Array.from({ length: 30 * 20 * 3 }, (_, i) => i % 251);
    expect(Buffer.from(pillowBilinearRgb(small, 30, 20, 7, 9))).toEqual(
      Buffer.from(pillowBilinearRgbJs(small, 30, 20, 7, 9)),
    );
  });

  it("ships the .wasm that its .wat compiles to (npm run build:wasm)", async () => {
    // @ts-expect-error: a plain .mjs build script without types
    const { compileWat } = await import("../scripts/build-wasm.mjs");
    const dir = new URL("../src/model/wasm/", import.meta.url);
    const built: Buffer = await compileWat(new URL("pillow-resize.wat", dir).pathname);
    expect(built.equals(readFileSync(new URL("pillow-resize.wasm", dir)))).toBe(true);
  });
});

describe("pre/postprocessing arithmetic", () => {
  it("normalises HWC bytes into CHW planes with (x*scale-mean)/std", () => {
    const spec = {
      width: 2,
      height: 1,
      scale: 1 / 255,
      mean: [0.5, 0.25, 0] as const,
      std: [0.5, 0.25, 1] as const,
    };
    const x = normalizeToChw(Uint8Array.from([255, 0, 51, 0, 255, 102]), spec);
    expect(Array.from(x).map((v) => Number(v.toFixed(4)))).toEqual([1, -1, -1, 3, 0.2, 0.4]);
  });

  it("normalises every byte value to the float32 of the float64 multiply-add, for each spec in turn", () => {
    type Spec = Parameters<typeof normalizeToChw>[1];
    const imagenet: Spec = {
      width: 256,
      height: 1,
      scale: 1 / 255,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    };
    const other: Spec = { width: 256, height: 1, scale: 1, mean: [127.5, 0, 3], std: [127.5, 1, 7] };
    for (const spec of [imagenet, other, imagenet]) {
      const rgb = new Uint8Array(256 * 3);
      for (let v = 0; v < 256; v++) rgb.set([v, 255 - v, (v * 7) & 255], 3 * v);
      const x = normalizeToChw(rgb, spec);
      for (let c = 0; c < 3; c++) {
        const a = spec.scale / (spec.std[c] as number);
        const o = -(spec.mean[c] as number) / (spec.std[c] as number);
        for (let i = 0; i < 256; i++) {
          expect(x[c * 256 + i]).toBe(Math.fround((rgb[3 * i + c] as number) * a + o));
        }
      }
    }
  });

  it("resizes probabilities back exactly like Pillow's BILINEAR on mode F", () => {
    // Reference rows printed by Pillow 13 for this 4x4 map resized to 8x8.
    const map = Float32Array.from([
      0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.0, 0.25, 0.1, 0.1, 0.1, 0.1,
    ]);
    const row0 = [0.1, 0.125, 0.175, 0.225, 0.275, 0.325, 0.375, 0.4];
    const row1 = [0.2, 0.225, 0.275, 0.325, 0.375, 0.425, 0.475, 0.5];
    for (const [i, t] of row0.entries()) {
      // Thresholding just above / below the reference value flips exactly that pixel.
      expect(resizeAndThreshold(map, 4, 4, 8, 8, t - 1e-6, "bilinear").data[i]).toBe(255);
      expect(resizeAndThreshold(map, 4, 4, 8, 8, t + 1e-6, "bilinear").data[i]).toBe(0);
    }
    for (const [i, t] of row1.entries()) {
      expect(resizeAndThreshold(map, 4, 4, 8, 8, t - 1e-6, "bilinear").data[8 + i]).toBe(255);
      expect(resizeAndThreshold(map, 4, 4, 8, 8, t + 1e-6, "bilinear").data[8 + i]).toBe(0);
    }
  });

  it("skips only what cannot reach the threshold: same mask as resizing every pixel", () => {
    // The plain algorithm (activate all, resize all, threshold all), kept here as the reference.
    const reference = (logits: Float32Array, w: number, h: number, W: number, H: number, t: number) => {
      const p = activate(logits, "sigmoid");
      const weights = (inSize: number, outSize: number) => {
        const scale = inSize / outSize;
        const support = Math.max(scale, 1);
        return Array.from({ length: outSize }, (_, o) => {
          const c = (o + 0.5) * scale;
          const lo = Math.max(Math.trunc(c - support + 0.5), 0);
          const hi = Math.min(Math.trunc(c + support + 0.5), inSize);
          const ws = Array.from({ length: hi - lo }, (_, i) => {
            const d = Math.abs((i + lo - c + 0.5) / support);
            return d < 1 ? 1 - d : 0;
          });
          const sum = ws.reduce((a, b) => a + b, 0);
          return { lo, ws: ws.map((v) => (sum ? v / sum : 0)) };
        });
      };
      const cx = weights(w, W);
      const cy = weights(h, H);
      const tmp = new Float32Array(h * W);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < W; x++)
          tmp[y * W + x] = (cx[x] as { lo: number; ws: number[] }).ws.reduce(
            (s, wt, i) => s + (p[y * w + (cx[x] as { lo: number }).lo + i] as number) * wt,
            0,
          );
      const out = new Uint8Array(W * H);
      for (let y = 0; y < H; y++) {
        const { lo, ws } = cy[y] as { lo: number; ws: number[] };
        for (let x = 0; x < W; x++) {
          let s = 0;
          for (let i = 0; i < ws.length; i++)
            if (ws[i]) s += (tmp[(lo + i) * W + x] as number) * (ws[i] as number);
          out[y * W + x] = Math.fround(s) >= Math.fround(t) ? 255 : 0;
        }
      }
      return out;
    };
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const maps: Array<[string, number, number, (x: number, y: number) => number]> = [
      ["a blob in a cold map", 40, 32, (x, y) => (Math.hypot(x - 25, y - 10) < 6 ? 4 : -8) + rand()],
      [
        "two blobs and noise",
        33,
        47,
        (x, y) => ((x - 5) ** 2 + (y - 40) ** 2 < 20 || (x > 28 && y < 4) ? 3 : -5) + 2 * rand(),
      ],
      ["near the threshold everywhere", 24, 24, () => (rand() - 0.5) * 0.02],
      ["all cold", 16, 16, () => -20 - rand()],
      ["exactly at the threshold in places", 20, 20, (x, y) => ((x + y) % 7 === 0 ? 0 : -9)],
      // the columns the horizontal pass may skip end at the map's first and last columns
      [
        "hot only in the first and last columns",
        30,
        20,
        (x, y) => ((x === 0 || x === 29) && y % 5 === 0 ? 5 : -7),
      ],
      [
        "one narrow hot strip",
        50,
        30,
        (x, y) => (x >= 31 && x <= 33 && y >= 12 && y <= 20 ? 2 : -3) + rand(),
      ],
    ];
    for (const [name, w, h, f] of maps) {
      const logits = new Float32Array(w * h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) logits[y * w + x] = f(x, y);
      for (const [W, H] of [
        [3 * w + 1, 2 * h + 5], // up, as from the model to a photo
        [Math.ceil(w / 2) + 1, Math.ceil(h / 3)], // down, more taps per pixel
      ] as const) {
        const got = resizeAndThreshold(logits, w, h, W, H, 0.5, "bilinear", "sigmoid");
        const want = reference(logits, w, h, W, H, 0.5);
        expect(Buffer.from(got.data).equals(Buffer.from(want)), `${name} ${w}x${h} -> ${W}x${H}`).toBe(true);
        expect(got.coverage).toBe(want.filter((v) => v).length / (W * H));
      }
    }
  });

  it("reports coverage and the bounding box of the mask", () => {
    const map = new Float32Array(16);
    map[5] = 1; // (1,1) of 4x4
    const m = resizeAndThreshold(map, 4, 4, 8, 8, 0.5, "nearest");
    expect(m.bbox).toEqual({ x: 2, y: 2, width: 2, height: 2 });
    expect(m.coverage).toBeCloseTo(4 / 64);
    expect(resizeAndThreshold(new Float32Array(16), 4, 4, 8, 8, 0.5, "bilinear").bbox).toBeNull();
    expect(Array.from(activate(Float32Array.from([0, 100, -200]), "sigmoid"))).toEqual([0.5, 1, 0]);
  });
});

describe("mask PNG", () => {
  it("is 8-bit greyscale with the mask's pixels, whatever the size, and a reused buffer leaks nothing", async () => {
    const mask = (width: number, height: number, on: (x: number, y: number) => boolean): Mask => {
      const data = new Uint8Array(width * height);
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++) if (on(x, y)) data[y * width + x] = 255;
      return { data, width, height, coverage: 0, bbox: null };
    };
    for (const m of [
      mask(1000, 1333, (x, y) => (x - 500) ** 2 + (y - 600) ** 2 < 200 ** 2),
      mask(7, 3, () => false), // smaller than the last one: the kept scanlines must not show through
      mask(5, 9, () => true),
      mask(1, 1, () => true),
      mask(333, 17, (x, y) => (x * 7 + y * 3) % 11 < 4),
    ]) {
      const png = await encodeMaskPng(m);
      const meta = await sharp(png).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels, meta.depth]).toEqual([
        "png",
        m.width,
        m.height,
        1,
        "uchar",
      ]);
      const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      expect(data.equals(Buffer.from(m.data))).toBe(true);
    }
  });
});
