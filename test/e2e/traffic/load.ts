/**
 * A bounded load generator for the e2e scenarios: sends one photo at a fixed rate through the
 * gateway (or straight to a pod) and records every response, for a scenario to assert on
 * (failed requests, share per serving version, valid masks).
 *
 * Bounded by construction: at most MAX_RATE requests per second, at most MAX_DURATION_MS, at most
 * `maxInFlight` requests open at once (a slow target makes it skip ticks, never pile up), and
 * only to loopback or private (pod/service network) addresses: it refuses any other target.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIPv4 } from "node:net";

export const MAX_RATE = 50;
export const MAX_DURATION_MS = 30 * 60_000;

export interface LoadTarget {
  /** http(s)://<IPv4>:<port>/<path>: a loopback or private address, never a name to resolve */
  url: string;
  /** Host header (and TLS server name): the environment's hostname */
  host: string;
  /** PEM CA that signed the gateway's certificate (https only) */
  ca?: string | Buffer;
  /** extra request headers (e.g. x-wms-version to pin a version) */
  headers?: Record<string, string>;
}

export interface LoadOptions {
  /** requests per second, 0 < rate <= MAX_RATE */
  rate: number;
  /** how long to send, 0 < durationMs <= MAX_DURATION_MS (stop() ends it earlier) */
  durationMs: number;
  /** the photo, sent as the request body */
  body: Buffer;
  contentType: string;
  /** the photo's size: a valid mask is a PNG of these dimensions */
  width: number;
  height: number;
  /** per-request timeout (default 30 s) */
  timeoutMs?: number;
  /** most requests open at once (default 8) */
  maxInFlight?: number;
}

export interface ResponseRecord {
  /** ms since the generator started, when the request was sent */
  sentAt: number;
  /** how long until the whole response was read (or the error), ms */
  ms: number;
  /** HTTP status, or 0 when no response came (connection error, timeout) */
  status: number;
  /** the serving version: the server's x-model-version response header */
  version?: string;
  /** a 200 whose body is a PNG of the photo's dimensions with x-mask-coverage in [0, 1] */
  maskValid: boolean;
  error?: string;
}

export interface LoadSummary {
  total: number;
  ok: number;
  failed: number;
  /** count of 200s per serving version */
  byVersion: Record<string, number>;
  invalidMasks: number;
  skippedTicks: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk, or undefined when `buf` is not a PNG. */
export function pngSize(buf: Buffer): { width: number; height: number } | undefined {
  if (buf.length < 24 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) return undefined;
  if (buf.subarray(12, 16).toString("latin1") !== "IHDR") return undefined;
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/** A 200 whose body is a PNG of the photo's size and whose x-mask-coverage is in [0, 1]. */
export function validMask(
  status: number,
  body: Buffer,
  coverage: string | undefined,
  photo: { width: number; height: number },
): boolean {
  const size = pngSize(body);
  const c = coverage === undefined || coverage === "" ? Number.NaN : Number(coverage);
  return status === 200 && size?.width === photo.width && size?.height === photo.height && c >= 0 && c <= 1;
}

/** Loopback (127/8) or private (10/8, 172.16/12, 192.168/16) IPv4: what the suite may send to. */
export function allowedAddress(ip: string): boolean {
  if (!isIPv4(ip)) return false;
  const [a = -1, b = -1] = ip.split(".").map(Number);
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

function checkOptions(target: LoadTarget, o: LoadOptions): URL {
  const url = new URL(target.url);
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`load target ${target.url}: only http and https`);
  if (!allowedAddress(url.hostname))
    throw new Error(
      `load target ${target.url}: only loopback or private IPv4 addresses (the cluster's pod or service network)`,
    );
  if (!(o.rate > 0 && o.rate <= MAX_RATE))
    throw new Error(`load rate ${o.rate}/s: must be in (0, ${MAX_RATE}]`);
  if (!(o.durationMs > 0 && o.durationMs <= MAX_DURATION_MS))
    throw new Error(`load duration ${o.durationMs} ms: must be in (0, ${MAX_DURATION_MS}]`);
  return url;
}

function send(url: URL, target: LoadTarget, o: LoadOptions): Promise<Omit<ResponseRecord, "sentAt" | "ms">> {
  return new Promise((resolve) => {
    const https = url.protocol === "https:";
    const req = (https ? httpsRequest : httpRequest)(
      {
        host: url.hostname,
        port: url.port || (https ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: {
          ...target.headers,
          host: target.host,
          "content-type": o.contentType,
          "content-length": o.body.length,
        },
        ...(https ? { servername: target.host, ca: target.ca } : {}),
        // above Envoy's route timeout (15 s, Envoy's default; Envoy Gateway sets none): a slow
        // answer shows as Envoy's 504 with its reason rather than as a client-side timeout
        timeout: o.timeoutMs ?? 30_000,
        agent: false,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          const v = res.headers["x-model-version"];
          const version = Array.isArray(v) ? v[0] : v;
          const coverage = res.headers["x-mask-coverage"];
          const maskValid = validMask(status, body, Array.isArray(coverage) ? coverage[0] : coverage, o);
          // what answered instead of a mask (Envoy's local reply names its reason), for the report
          const error = status === 200 ? undefined : body.subarray(0, 240).toString("utf8").trim();
          resolve({ status, ...(version ? { version } : {}), maskValid, ...(error ? { error } : {}) });
        });
        res.on("error", (e) => resolve({ status: 0, maskValid: false, error: e.message }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, maskValid: false, error: e.message }));
    req.end(o.body);
  });
}

export class LoadGenerator {
  readonly records: ResponseRecord[] = [];
  private skipped = 0;
  private inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private t0 = 0;
  private readonly url: URL;
  private done: Promise<void> | undefined;
  private finish: (() => void) | undefined;

  constructor(
    private readonly target: LoadTarget,
    private readonly options: LoadOptions,
  ) {
    this.url = checkOptions(target, options);
  }

  /** Start sending; resolves when the duration is over (or stop() was called) and every request ended. */
  start(): Promise<ResponseRecord[]> {
    if (this.done) throw new Error("load generator already started");
    this.t0 = performance.now();
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
    const max = this.options.maxInFlight ?? 8;
    this.timer = setInterval(() => {
      if (this.inFlight.size >= max) {
        this.skipped++;
        return;
      }
      const sentAt = performance.now() - this.t0;
      const p = send(this.url, this.target, this.options).then((r) => {
        this.records.push({
          sentAt: Math.round(sentAt),
          ms: Math.round(performance.now() - this.t0 - sentAt),
          ...r,
        });
        this.inFlight.delete(p);
      });
      this.inFlight.add(p);
    }, 1000 / this.options.rate);
    this.deadline = setTimeout(() => void this.stop(), this.options.durationMs);
    return this.done.then(() => this.records);
  }

  /** Stop sending and wait for the requests still open. */
  async stop(): Promise<ResponseRecord[]> {
    clearInterval(this.timer);
    clearTimeout(this.deadline);
    await Promise.all(this.inFlight);
    this.finish?.();
    return this.records;
  }

  /** ms since start(), on the clock `sentAt` uses */
  elapsed(): number {
    return performance.now() - this.t0;
  }

  summary(): LoadSummary {
    return summarize(this.records, this.skipped);
  }
}

export function summarize(records: ResponseRecord[], skippedTicks = 0): LoadSummary {
  const byVersion: Record<string, number> = {};
  let ok = 0;
  let invalidMasks = 0;
  for (const r of records) {
    if (r.status === 200) {
      ok++;
      const v = r.version ?? "(no x-model-version)";
      byVersion[v] = (byVersion[v] ?? 0) + 1;
      if (!r.maskValid) invalidMasks++;
    }
  }
  return { total: records.length, ok, failed: records.length - ok, byVersion, invalidMasks, skippedTicks };
}

/**
 * Whether `observed` of `n` is within `sigmas` binomial standard deviations of share `p`
 * (the tolerance a weighted-split assertion states: |observed/n - p| <= sigmas * sqrt(p(1-p)/n)).
 */
export function withinBinomial(observed: number, n: number, p: number, sigmas = 4): boolean {
  const sd = Math.sqrt((p * (1 - p)) / n);
  return Math.abs(observed / n - p) <= sigmas * sd;
}
