/**
 * The e2e load generator (test/e2e/traffic/load.ts): it records every response with its status,
 * serving version and mask validity, keeps to its bounds, and refuses targets outside loopback
 * and private networks. Against a real HTTP server on loopback that answers like the model
 * server (x-model-version, x-mask-coverage, a PNG mask).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allowedAddress,
  LoadGenerator,
  MAX_DURATION_MS,
  MAX_RATE,
  pngSize,
  summarize,
  validMask,
  withinBinomial,
} from "./e2e/traffic/load.ts";

/** Signature and IHDR of a PNG of width x height (what pngSize reads). */
function pngHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8);
  b.write("IHDR", 12, "latin1");
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}

let server: Server;
let url: string;
let received = 0;
const hosts: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const n = received++;
    hosts.push(req.headers.host ?? "");
    req.resume();
    req.on("end", () => {
      // of every 4 requests: 1.0.0 with a valid mask, 1.1.0 with a mask of the wrong size,
      // 1.0.0 again, then a 503 (every pattern shows within the first 4 requests)
      if (n % 4 === 3) {
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("no healthy upstream");
        return;
      }
      const version = n % 2 === 0 ? "1.0.0" : "1.1.0";
      const png = version === "1.1.0" ? pngHeader(8, 3) : pngHeader(4, 3);
      res.writeHead(200, {
        "content-type": "image/png",
        "x-model-version": version,
        "x-mask-coverage": "0.25",
      });
      res.end(png);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/predictions/wms`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("load generator", () => {
  it("records every response: status, serving version, mask validity", async () => {
    received = 0;
    hosts.length = 0;
    const gen = new LoadGenerator(
      { url, host: "wms.dev.example.com" },
      {
        rate: 40,
        durationMs: 3000,
        body: Buffer.from("photo"),
        contentType: "image/jpeg",
        width: 4,
        height: 3,
      },
    );
    const records = await gen.start();
    expect(records.length).toBe(received);
    // at most rate x duration (+1 for the first tick); far fewer on a loaded machine (timers
    // late), but at least the server's 4-request pattern
    expect(records.length).toBeGreaterThanOrEqual(4);
    expect(records.length).toBeLessThanOrEqual(121);
    expect(new Set(hosts)).toEqual(new Set(["wms.dev.example.com"]));
    const s = gen.summary();
    expect(s.total).toBe(records.length);
    expect(s.failed).toBe(records.filter((r) => r.status === 503).length);
    expect(s.failed).toBeGreaterThan(0);
    expect(Object.keys(s.byVersion).sort()).toEqual(["1.0.0", "1.1.0"]);
    expect(s.invalidMasks).toBeGreaterThan(0);
    expect(records.filter((r) => r.version === "1.0.0").every((r) => r.maskValid)).toBe(true);
    expect(records.filter((r) => r.version === "1.1.0").every((r) => !r.maskValid)).toBe(true);
    expect(
      records.filter((r) => r.status === 503).every((r) => !r.maskValid && r.version === undefined),
    ).toBe(true);
  });

  it("records a connection that fails as status 0", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const gen = new LoadGenerator(
      { url: `http://127.0.0.1:${port}/`, host: "h" },
      { rate: 10, durationMs: 300, body: Buffer.from("x"), contentType: "image/jpeg", width: 1, height: 1 },
    );
    const records = await gen.start();
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.status === 0 && r.error)).toBe(true);
    expect(summarize(records).failed).toBe(records.length);
  });

  it("refuses targets outside loopback and private networks, and unbounded rates or durations", () => {
    const o = { rate: 1, durationMs: 1000, body: Buffer.from(""), contentType: "x", width: 1, height: 1 };
    expect(() => new LoadGenerator({ url: "http://8.8.8.8/", host: "h" }, o)).toThrow(
      /only loopback or private/,
    );
    expect(() => new LoadGenerator({ url: "http://example.com/", host: "h" }, o)).toThrow(/only loopback/);
    expect(() => new LoadGenerator({ url, host: "h" }, { ...o, rate: MAX_RATE + 1 })).toThrow(/load rate/);
    expect(() => new LoadGenerator({ url, host: "h" }, { ...o, durationMs: MAX_DURATION_MS + 1 })).toThrow(
      /load duration/,
    );
    expect(allowedAddress("172.31.4.7")).toBe(true);
    expect(allowedAddress("10.56.0.10")).toBe(true);
    expect(allowedAddress("172.32.0.1")).toBe(false);
    expect(allowedAddress("192.169.0.1")).toBe(false);
  });

  it("a valid mask: 200, a PNG of the photo's size, coverage in [0, 1]", () => {
    const photo = { width: 4, height: 3 };
    expect(validMask(200, pngHeader(4, 3), "0.25", photo)).toBe(true);
    expect(validMask(200, pngHeader(4, 3), "0", photo)).toBe(true);
    expect(validMask(503, pngHeader(4, 3), "0.25", photo)).toBe(false);
    expect(validMask(200, pngHeader(8, 3), "0.25", photo)).toBe(false);
    expect(validMask(200, pngHeader(4, 9), "0.25", photo)).toBe(false);
    expect(validMask(200, pngHeader(4, 3), "1.5", photo)).toBe(false);
    expect(validMask(200, pngHeader(4, 3), "-0.1", photo)).toBe(false);
    expect(validMask(200, pngHeader(4, 3), undefined, photo)).toBe(false);
    expect(validMask(200, Buffer.from("{}"), "0.25", photo)).toBe(false);
  });

  it("reads a PNG's size and states a binomial tolerance", () => {
    expect(pngSize(pngHeader(640, 480))).toEqual({ width: 640, height: 480 });
    expect(pngSize(Buffer.from("not a png at all, not at all"))).toBeUndefined();
    // 400 requests at 10 %: 4 sigma = 0.06
    expect(withinBinomial(40, 400, 0.1)).toBe(true);
    expect(withinBinomial(63, 400, 0.1)).toBe(true);
    expect(withinBinomial(65, 400, 0.1)).toBe(false);
    expect(withinBinomial(200, 400, 0.1)).toBe(false);
  });
});
