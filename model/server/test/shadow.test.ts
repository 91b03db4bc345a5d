/**
 * Shadow comparison between real servers on loopback: release 1.1.0 live with 1.0.0 (and
 * with the untrained example) as the shadow, on dataset photos; and shadows that hang or fail.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InflightBytes } from "../src/inflight-bytes.ts";
import { ServerMetrics } from "../src/metrics.ts";
import type { RunningServer } from "../src/server.ts";
import { maskIou, Shadow } from "../src/shadow.ts";
import {
  datasetImages,
  datasetUnavailable,
  type ModelFiles,
  modelUnavailable,
  shippedReleaseModels,
  untrainedModel,
} from "./support/model.ts";
import { testServer } from "./support/server.ts";

const release = (v: string) => shippedReleaseModels().find((r) => basename(r.dir) === v);
const skip =
  modelUnavailable() ??
  datasetUnavailable() ??
  (release("1.0.0") && release("1.1.0") ? null : "releases 1.0.0 and 1.1.0 with model.onnx not found");
if (skip) console.warn(`SKIP shadow tests: ${skip}`);

/** sum, count and per-result counters of the shadow metrics, from the metrics port */
async function shadowMetrics(server: RunningServer) {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const results: Record<string, number> = {};
  for (const m of text.matchAll(/^wms_shadow_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const result = /result="([^"]+)"/.exec(m[1] as string)?.[1] as string;
    results[result] = (results[result] ?? 0) + Number(m[2]);
  }
  return {
    text,
    iouSum: value(/^wms_shadow_agreement_iou_sum\{[^}]*\} (\S+)$/m),
    iouCount: value(/^wms_shadow_agreement_iou_count\{[^}]*\} (\S+)$/m),
    below999: value(/^wms_shadow_agreement_iou_bucket\{le="0\.999",[^}]*\} (\S+)$/m),
    results,
  };
}

async function predictAll(server: RunningServer, photos: Buffer[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const photo of photos) {
    const r = await fetch(`${server.url}/predictions/wms`, { method: "POST", body: photo });
    await r.arrayBuffer();
    statuses.push(r.status);
  }
  return statuses;
}

describe("shadow copies and the in-flight body budget", () => {
  const mask = (pixels: number) => ({
    data: new Uint8Array(pixels),
    width: pixels,
    height: 1,
    coverage: 0,
    bbox: null,
  });
  const counts = async (metrics: ServerMetrics) =>
    Object.fromEntries(
      (await metrics.shadowRequests.get()).values.map((v) => [v.labels.result as string, v.value]),
    );

  it("holds a copy's bytes while it is out, releases them after, and drops a copy that does not fit", async () => {
    const hung = createServer(() => {}); // accepts, never answers: the copy stays out
    await new Promise<void>((r) => hung.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    const budget = new InflightBytes(1000);
    const metrics = new ServerMetrics();
    const shadow = new Shadow({ url, sample: 1, timeoutMs: 300, maxInFlight: 4 }, metrics, budget);
    try {
      shadow.offer("wms", "1.1.0", Buffer.alloc(400), mask(100)); // 400 + 2 x 100 bytes
      expect(budget.held).toBe(600);
      shadow.offer("wms", "1.1.0", Buffer.alloc(300), mask(100)); // 500 more would pass 1000
      expect(budget.held).toBe(600);
      expect(await counts(metrics)).toEqual({ dropped: 1 });
      await shadow.idle();
      expect(budget.held).toBe(0);
      expect(await counts(metrics)).toEqual({ dropped: 1, timeout: 1 });
    } finally {
      hung.closeAllConnections();
      hung.close();
    }
  });
});

// issue 28: the shadow is a peer the server trusts only as far as the copy it was sent
describe("a hostile shadow peer", () => {
  const mask = (pixels: number) => ({
    data: new Uint8Array(pixels),
    width: pixels,
    height: 1,
    coverage: 0,
    bbox: null,
  });
  async function peer(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }
  const results = async (metrics: ServerMetrics) =>
    (await metrics.shadowRequests.get()).values.map((v) => ({ ...v.labels, value: v.value }));

  it("a redirect is not followed: counted as an error, the other address never asked", async () => {
    let asked = 0;
    const elsewhere = await peer((_req, res) => {
      asked++;
      res.end();
    });
    const redirecting = await peer((req, res) => {
      req.resume();
      res.writeHead(307, { location: `${elsewhere.url}/predictions/wms` }).end();
    });
    const metrics = new ServerMetrics();
    const shadow = new Shadow({ url: redirecting.url, sample: 1, timeoutMs: 2000, maxInFlight: 4 }, metrics);
    try {
      shadow.offer("wms", "1.1.0", Buffer.alloc(10), mask(4));
      await shadow.idle();
      expect(asked).toBe(0);
      expect(await results(metrics)).toEqual([
        { live_version: "1.1.0", shadow_version: "unknown", result: "error", value: 1 },
      ]);
    } finally {
      redirecting.server.close();
      elsewhere.server.close();
    }
  });

  it("a reply larger than a mask can be is cut off: an error, not an unbounded read", async () => {
    let sent = 0;
    const flood = await peer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "image/png", "x-model-version": "1.0.0" });
      const chunk = Buffer.alloc(64 * 1024);
      const more = () => {
        while (sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", more);
        }
        res.end();
      };
      more();
    });
    const metrics = new ServerMetrics();
    const shadow = new Shadow({ url: flood.url, sample: 1, timeoutMs: 10_000, maxInFlight: 4 }, metrics);
    try {
      shadow.offer("wms", "1.1.0", Buffer.alloc(10), mask(100));
      await shadow.idle();
      expect(await results(metrics)).toEqual([
        { live_version: "1.1.0", shadow_version: "1.0.0", result: "error", value: 1 },
      ]);
      // far less than the 64 MiB it would have sent
      expect(sent).toBeLessThan(16 * 1024 * 1024);
    } finally {
      flood.server.closeAllConnections();
      flood.server.close();
    }
  });

  it("the version label is one well-formed value per process: a peer cannot grow the label set", async () => {
    const versions = ["1.0.0", "9.9.9", "x".repeat(100), 'a"b', "1.0.0"];
    let i = 0;
    const liar = await peer((req, res) => {
      req.resume();
      res.writeHead(500, { "x-model-version": versions[i++ % versions.length] as string }).end();
    });
    const metrics = new ServerMetrics();
    const shadow = new Shadow({ url: liar.url, sample: 1, timeoutMs: 2000, maxInFlight: 1 }, metrics);
    try {
      for (const _ of versions) {
        shadow.offer("wms", "1.1.0", Buffer.alloc(10), mask(4));
        await shadow.idle();
      }
      const byVersion = Object.fromEntries((await results(metrics)).map((r) => [r.shadow_version, r.value]));
      expect(byVersion).toEqual({ "1.0.0": 2, unknown: 3 });
    } finally {
      liar.server.close();
    }
  });
});

describe("mask IoU", () => {
  it("is intersection over union of the set pixels, 1 for two empty masks", () => {
    const a = Uint8Array.from([255, 255, 0, 0]);
    expect(maskIou(a, Uint8Array.from([255, 0, 255, 0]))).toBeCloseTo(1 / 3, 9);
    expect(maskIou(a, a)).toBe(1);
    expect(maskIou(new Uint8Array(4), new Uint8Array(4))).toBe(1);
    expect(() => maskIou(a, new Uint8Array(3))).toThrow(/4 and 3 pixels/);
  });
});

/**
 * The comparison tests measure agreement, not timeouts: every photo is copied, and the copy may
 * take as long as a loaded CI machine needs (the default 2 s timed a copy out there once, so
 * fewer than all were compared). Timeouts have their own test below.
 */
const COMPARE = { shadowSample: 1, shadowTimeoutMs: 30_000 };

describe.skipIf(skip !== null)("shadow comparison", () => {
  let photos: Buffer[];
  let untrained: ModelFiles;
  const started: RunningServer[] = [];
  const extra: Server[] = [];
  const start = async (opts: Parameters<typeof testServer>[0]) => {
    const s = await testServer({ threads: 1, ...opts });
    started.push(s);
    await s.loaded;
    return s;
  };
  /** a plain HTTP server standing in for a broken shadow */
  const fake = async (handler: Parameters<typeof createServer>[1]) => {
    const s = createServer(handler);
    extra.push(s);
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    photos = datasetImages()
      .slice(0, 6)
      .map((f) => readFileSync(f));
    untrained = await untrainedModel();
  });
  afterAll(async () => {
    for (const s of extra) s.closeAllConnections();
    await Promise.all(extra.map((s) => new Promise((r) => s.close(r))));
    await Promise.all(started.map((s) => s.shutdown()));
  });

  it("1.1.0 live with 1.0.0 as shadow: every sampled photo compared, agreement high but below 1", async () => {
    const v100 = release("1.0.0") as ModelFiles;
    const v110 = release("1.1.0") as ModelFiles;
    const shadow = await start({ model: v100.model, card: v100.card });
    const live = await start({ model: v110.model, card: v110.card, shadowUrl: shadow.url, ...COMPARE });
    expect(await predictAll(live, photos)).toEqual(Array(photos.length).fill(200));
    await live.shadow?.idle();
    const m = await shadowMetrics(live);
    expect(m.results).toEqual({ compared: photos.length });
    expect(m.text).toMatch(
      /wms_shadow_agreement_iou_count\{live_version="1\.1\.0",shadow_version="1\.0\.0"\} 6/,
    );
    const mean = m.iouSum / m.iouCount;
    console.log(`agreement 1.1.0 vs 1.0.0: mean IoU ${mean.toFixed(4)} over ${m.iouCount} photos`);
    expect(mean).toBeGreaterThan(0.5); // the untrained shadow below: ~0.04
    expect(m.below999).toBeGreaterThan(0); // two trained versions never draw exactly the same masks
  });

  it("1.1.0 live with the untrained example as shadow: agreement is low", async () => {
    const v110 = release("1.1.0") as ModelFiles;
    const shadow = await start({ model: untrained.model });
    const live = await start({ model: v110.model, card: v110.card, shadowUrl: shadow.url, ...COMPARE });
    await predictAll(live, photos);
    await live.shadow?.idle();
    const m = await shadowMetrics(live);
    expect(m.results.compared).toBe(photos.length);
    const mean = m.iouSum / m.iouCount;
    console.log(`agreement 1.1.0 vs untrained: mean IoU ${mean.toFixed(4)} over ${m.iouCount} photos`);
    expect(mean).toBeLessThan(0.5);
  });

  it("a shadow that hangs or fails changes nothing for live clients: counted as timeout, dropped, error", async () => {
    const hanging = await fake(() => undefined); // accepts, never answers
    const failing = await fake((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end('{"error":"boom"}');
    });
    const common = { model: untrained.model, shadowSample: 1, shadowTimeoutMs: 300, shadowMaxInFlight: 1 };
    // the hanging copy outlasts the next two answers (~0.7 s apart here), so they find its slot taken
    const live = await start({ ...common, shadowTimeoutMs: 2500, shadowUrl: hanging });
    const t0 = performance.now();
    // three at once: their copies are offered while the first one still waits
    const three = photos.slice(0, 3).map((p) => predictAll(live, [p]));
    expect((await Promise.all(three)).flat()).toEqual([200, 200, 200]);
    const answered = performance.now() - t0;
    await live.shadow?.idle();
    const hung = await shadowMetrics(live);
    // the first copy waits for its timeout; the two behind it find the one slot taken
    expect(hung.results.timeout).toBeGreaterThanOrEqual(1);
    expect((hung.results.timeout ?? 0) + (hung.results.dropped ?? 0)).toBe(3);
    expect(hung.results.dropped).toBeGreaterThanOrEqual(1);
    console.log(`3 live answers with a hanging shadow took ${answered.toFixed(0)} ms`);

    const live2 = await start({ ...common, shadowUrl: failing });
    expect(await predictAll(live2, photos.slice(0, 2))).toEqual([200, 200]);
    await live2.shadow?.idle();
    const failed = await shadowMetrics(live2);
    expect((failed.results.error ?? 0) + (failed.results.dropped ?? 0)).toBe(2);
    expect(failed.results.error).toBeGreaterThanOrEqual(1);
  });
});
