/**
 * The running server: model host + queue + prediction port + metrics port, and the shutdown
 * sequence. The CLI and the tests start it the same way.
 */
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DEFAULT_SHADOW_SAMPLE, PORTS, sessionCount } from "../../serving-contract.ts";
import { errorMessage } from "./errors.ts";
import { createApp, createMetricsApp } from "./http/app.ts";
import type { AppContext, HttpLimits } from "./http/context.ts";
import { JsonTensors } from "./http/json-tensors.ts";
import { InflightBytes } from "./inflight-bytes.ts";
import { jsonLogger, type Logger } from "./log.ts";
import { JSON_BYTES_PER_BODY_BYTE, limitsForMemory, type MemoryLimits } from "./memory.ts";
import { ServerMetrics } from "./metrics.ts";
import { restrictDecoders } from "./model/decode.ts";
import { type LoadedModel, ModelHost } from "./model/lifecycle.ts";
import { BatchQueue } from "./queue.ts";
import { Shadow } from "./shadow.ts";

export interface ServerOptions extends HttpLimits {
  model: string;
  sha256?: string | undefined;
  card?: string | undefined;
  host: string;
  port: number;
  metricsPort: number;
  threads: number;
  /** sessions run side by side under load, threads / instances each (1 = one session; session-pool.ts) */
  instances: number;
  /** ONNX Runtime's idle-thread spinning (off unless the cores are dedicated) */
  ortSpinning?: boolean;
  /** one JSON line per answered request on the log (method, path, status, ms); the CLI turns it on */
  accessLog?: boolean;
  /**
   * decode photos at full size and resize them exactly as training's Pillow does (byte parity
   * with training's preprocessing); off: a JPEG is decoded at the model's scale (decode.ts)
   */
  exactPreprocess?: boolean;
  /** requests that may wait for inference (beyond the batch being run) */
  queue: number;
  maxBatch: number;
  /** images decoded and preprocessed ahead of inference (0 = 2 x maxBatch) */
  prefetch: number;
  batchDelayMs: number;
  /**
   * the container's memory limit (0 = none): when set, the per-request and in-flight limits
   * follow from it (memory.ts) instead of maxPixels/maxBodyBytes/maxJsonBytes alone
   */
  memoryLimitBytes: number;
  /** body bytes all requests together may hold (without a memory limit) */
  maxInflightBodyBytes: number;
  /** a body slower than this on average, after bodyGraceMs, is cut off with 408 */
  minBodyBytesPerSecond: number;
  bodyGraceMs: number;
  /** another version's server: a sample of answered predictions is copied there and compared */
  shadowUrl?: string | undefined;
  /** share of answered predictions copied to the shadow, in (0, 1] */
  shadowSample: number;
  shadowTimeoutMs: number;
  /** shadow copies at a time; more are dropped (and counted) */
  shadowMaxInFlight: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** after SIGTERM: keep serving (readiness already withdrawn) this long before closing the listener */
  drainMs: number;
  /** after closing the listener: how long in-flight requests may take before the process gives up */
  shutdownTimeoutMs: number;
  log?: Logger;
}

export const DEFAULTS = {
  // this machine only when run locally; the image (Dockerfile CMD) and the rendered Deployments
  // pass --host 0.0.0.0 (generator/src/render/stack.ts)
  host: "127.0.0.1",
  port: PORTS.inference,
  metricsPort: PORTS.metrics,
  threads: 0,
  instances: 1,
  queue: 16,
  maxBatch: 1,
  prefetch: 0,
  batchDelayMs: 5,
  maxBodyBytes: 16 * 1024 * 1024,
  maxJsonBytes: 64 * 1024 * 1024,
  maxPixels: 50_000_000,
  memoryLimitBytes: 0,
  maxInflightBodyBytes: 256 * 1024 * 1024,
  minBodyBytesPerSecond: 16 * 1024,
  bodyGraceMs: 2_000,
  shadowSample: DEFAULT_SHADOW_SAMPLE,
  shadowTimeoutMs: 2_000,
  shadowMaxInFlight: 4,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 5_000,
  // above the gateway's upstream idle timeout (apps/gateway/backendtrafficpolicy.yaml, 60 s), so
  // that Envoy, not the server, closes an idle connection: no request lands on a closing one
  keepAliveTimeoutMs: 75_000,
  drainMs: 0,
  shutdownTimeoutMs: 20_000,
} satisfies Partial<ServerOptions>;

export interface RunningServer {
  url: string;
  metricsUrl: string;
  host: ModelHost;
  metrics: ServerMetrics;
  /** settles when loading ends: resolves when ready, rejects with the reason it never will be */
  loaded: Promise<LoadedModel>;
  /** withdraw readiness, wait drainMs, stop accepting, let in-flight requests finish */
  shutdown(): Promise<void>;
  shadow: Shadow | undefined;
}

/** The limits in force: from the memory limit when there is one, else the options as given. */
export function effectiveLimits(opts: ServerOptions): MemoryLimits {
  const caps = {
    maxPixels: opts.maxPixels,
    maxBodyBytes: opts.maxBodyBytes,
    maxJsonBytes: opts.maxJsonBytes,
  };
  if (opts.memoryLimitBytes > 0) {
    return limitsForMemory(
      opts.memoryLimitBytes,
      opts.prefetch || 2 * opts.maxBatch,
      caps,
      sessionCount(opts.instances),
    );
  }
  return {
    ...caps,
    maxInflightBodyBytes: opts.maxInflightBodyBytes,
    jsonWorkerHeapMb: Math.ceil((opts.maxJsonBytes * JSON_BYTES_PER_BODY_BYTE) / 2 ** 20),
  };
}

async function listen(server: Server, host: string, port: number): Promise<string> {
  server.listen(port, host);
  await once(server, "listening");
  const addr = server.address() as AddressInfo;
  const h = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return `http://${h === "0.0.0.0" ? "127.0.0.1" : h}:${addr.port}`;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? jsonLogger;
  restrictDecoders();
  const metrics = new ServerMetrics();
  const host = new ModelHost();
  host.onBatchRun((mode) => metrics.sessionBatches.inc({ session: mode }));
  const queue = new BatchQueue<Float32Array, Float32Array>(
    {
      capacity: opts.queue,
      maxBatch: opts.maxBatch,
      maxDelayMs: opts.batchDelayMs,
      prefetch: opts.prefetch || undefined, // 0: the queue's default
      // two batches per session that runs under load (session-pool.ts)
      pipeline: 2 * opts.instances,
    },
    (items, run) => host.infer(items, run),
    {
      depth: (n) => metrics.queueDepth.set(n),
      batch: (size) => metrics.batchSize.observe(size),
    },
  );
  const limits = effectiveLimits(opts);
  const json = new JsonTensors(limits.jsonWorkerHeapMb);
  const uploads = new InflightBytes(limits.maxInflightBodyBytes);
  const ctx: AppContext = {
    host,
    queue,
    metrics,
    log,
    accessLog: opts.accessLog === true,
    exactPreprocess: opts.exactPreprocess === true,
    limits: {
      maxBodyBytes: limits.maxBodyBytes,
      maxJsonBytes: limits.maxJsonBytes,
      maxPixels: limits.maxPixels,
    },
    uploads,
    bodyRate: { graceMs: opts.bodyGraceMs, minBytesPerSecond: opts.minBodyBytesPerSecond },
    json,
    shadow: opts.shadowUrl
      ? new Shadow(
          {
            url: opts.shadowUrl.replace(/\/+$/, ""),
            sample: opts.shadowSample,
            timeoutMs: opts.shadowTimeoutMs,
            maxInFlight: opts.shadowMaxInFlight,
          },
          metrics,
          uploads,
        )
      : undefined,
  };
  host.onStateChange((s) => {
    metrics.modelLoaded.set(s === "ready" ? 1 : 0);
    log("info", "model state", { state: s });
  });

  const app = createApp(ctx, opts);
  const metricsApp = createMetricsApp(metrics);
  const url = await listen(app, opts.host, opts.port);
  const metricsUrl = await listen(metricsApp, opts.host, opts.metricsPort);
  // the address actually bound (url says 127.0.0.1 for 0.0.0.0, to be something one can fetch)
  const bound = (app.address() as AddressInfo).address;
  log("info", "listening", { url, metricsUrl, bound, pid: process.pid, limits });

  // Serve health (live, not ready) while the model loads; a failure keeps it that way.
  const loaded = host.load({
    model: opts.model,
    sha256: opts.sha256,
    card: opts.card,
    threads: opts.threads,
    instances: opts.instances,
    maxBatch: opts.maxBatch,
    spinning: opts.ortSpinning === true,
  });
  loaded.then(
    (m) => {
      metrics.modelInfo.set(
        { name: m.spec.name, version: m.spec.version, sha256: m.sha256, precision: m.precision },
        1,
      );
      log("info", "model ready", {
        name: m.spec.name,
        version: m.spec.version,
        sha256: m.sha256,
        precision: m.precision,
        input: `${m.spec.width}x${m.spec.height}`,
        preprocess: opts.exactPreprocess === true ? "exact" : "fast",
        example: m.card.example === true,
      });
    },
    (err) => log("error", "model will not become ready", { error: errorMessage(err) }),
  );

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      host.drain();
      log("info", "draining", { drainMs: opts.drainMs });
      if (opts.drainMs > 0) await new Promise((r) => setTimeout(r, opts.drainMs));
      const closed = Promise.all([
        new Promise<void>((r) => app.close(() => r())),
        new Promise<void>((r) => metricsApp.close(() => r())),
      ]);
      // Keep-alive sockets would hold close() open until they time out: close each one as soon
      // as its last response is out.
      metricsApp.closeAllConnections();
      app.closeIdleConnections();
      const sweeper = setInterval(() => app.closeIdleConnections(), 50);
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), opts.shutdownTimeoutMs);
      });
      const outcome = await Promise.race([closed.then(() => "closed" as const), gaveUp]);
      clearTimeout(timer);
      clearInterval(sweeper);
      if (outcome === "timeout") {
        app.closeAllConnections();
        log("warn", "shutdown timeout: closed remaining connections");
      }
      await loaded.catch(() => undefined);
      await ctx.shadow?.idle();
      await host.close();
      await json.close();
      log("info", "stopped");
    })();
    return stopping;
  };
  return { url, metricsUrl, host, metrics, loaded, shutdown, shadow: ctx.shadow };
}
