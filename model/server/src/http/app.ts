/**
 * The HTTP layer: routing, timeouts, in-flight accounting and the single error -> response
 * path. No endpoint loads or registers a model, and none fetches a URL from a request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import {
  BadInputError,
  HeadersTooLargeError,
  MethodNotAllowedError,
  NotFoundError,
  RequestTimeoutError,
} from "../errors.ts";
import type { ServerMetrics } from "../metrics.ts";
import type { AppContext } from "./context.ts";
import { type ErrorDialect, rawResponse, sendJson, toHttpError } from "./errors.ts";
import { isLingering, lingerAfterResponse, lingerClose } from "./linger.ts";
import { describeModel, listModels, ping, predictions } from "./routes.ts";
import * as v2 from "./v2.ts";

export interface TimeoutOptions {
  /** the whole request (headers and body) must arrive within this (Node's requestTimeout) */
  requestTimeoutMs: number;
  /** the headers must arrive within this: the slowloris guard */
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean) => void | Promise<void>;

interface Route {
  /** low-cardinality label for metrics */
  endpoint: string;
  dialect: ErrorDialect;
  methods: Record<string, Handler>;
}

const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/;

function match(ctx: AppContext, path: string): Route | undefined {
  if (path === "/ping")
    return { endpoint: "/ping", dialect: "torchserve", methods: { GET: (q, s) => ping(ctx, q, s) } };
  // TorchServe's inference API: /predictions/{model}[/{version}]
  const pred = /^\/predictions\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (pred) {
    const model = decodeURIComponent(pred[1] as string);
    const version = pred[2] === undefined ? undefined : decodeURIComponent(pred[2]);
    const h: Handler = (q, s, expectContinue) => predictions(ctx, q, s, { model, version, expectContinue });
    return {
      endpoint: version === undefined ? "/predictions/{model}" : "/predictions/{model}/{version}",
      dialect: "torchserve",
      methods: { POST: h, PUT: h },
    };
  }
  // TorchServe's management API, read-only (TorchServe serves it on its own port, 8081; here it
  // shares the inference port): GET /models, GET /models/{model}[/{version}]
  if (path === "/models")
    return { endpoint: "/models", dialect: "torchserve", methods: { GET: (q, s) => listModels(ctx, q, s) } };
  const mgmt = /^\/models\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (mgmt) {
    const p = {
      model: decodeURIComponent(mgmt[1] as string),
      version: mgmt[2] === undefined ? undefined : decodeURIComponent(mgmt[2]),
    };
    return {
      endpoint: "/models/{model}",
      dialect: "torchserve",
      methods: { GET: (q, s) => describeModel(ctx, q, s, p) },
    };
  }
  if (path === "/v2/health/live")
    return { endpoint: path, dialect: "v2", methods: { GET: (q, s) => v2.live(ctx, q, s) } };
  if (path === "/v2/health/ready")
    return { endpoint: path, dialect: "v2", methods: { GET: (q, s) => v2.ready(ctx, q, s) } };
  if (path === "/v2")
    return { endpoint: path, dialect: "v2", methods: { GET: (q, s) => v2.serverMetadata(ctx, q, s) } };
  const m = MODEL_PATH.exec(path);
  if (m) {
    const p = {
      model: decodeURIComponent(m[1] as string),
      version: m[2] ? decodeURIComponent(m[2]) : undefined,
    };
    if (m[3] === "/ready") {
      return {
        endpoint: "/v2/models/{model}/ready",
        dialect: "v2",
        methods: { GET: (q, s) => v2.modelReady(ctx, q, s, p) },
      };
    }
    if (m[3] === "/infer") {
      const h: Handler = (q, s, expectContinue) => v2.infer(ctx, q, s, { ...p, expectContinue });
      return { endpoint: "/v2/models/{model}/infer", dialect: "v2", methods: { POST: h } };
    }
    return {
      endpoint: "/v2/models/{model}",
      dialect: "v2",
      methods: { GET: (q, s) => v2.modelMetadata(ctx, q, s, p) },
    };
  }
  return undefined;
}

async function handle(ctx: AppContext, req: IncomingMessage, res: ServerResponse, expectContinue: boolean) {
  const { metrics } = ctx;
  const path = (req.url ?? "/").split("?")[0] as string;
  let route: Route | undefined;
  try {
    route = match(ctx, path);
  } catch {
    route = undefined; // malformed %-escapes: answered as an unknown path
  }
  const endpoint = route?.endpoint ?? "other";
  const started = performance.now();
  metrics.inFlight.inc();
  res.once("close", () => {
    const labels = { endpoint, code: String(res.statusCode) };
    metrics.inFlight.dec();
    metrics.requests.inc(labels);
    const seconds = (performance.now() - started) / 1000;
    metrics.requestSeconds.observe(labels, seconds);
    if (ctx.accessLog) {
      ctx.log("info", "request", {
        method: req.method,
        path,
        status: res.statusCode,
        ms: Math.round(seconds * 10_000) / 10,
        remote: req.socket.remoteAddress,
      });
    }
  });
  try {
    if (!route) throw new NotFoundError(`no such endpoint: ${path}`);
    const method = req.method === "HEAD" ? "GET" : (req.method ?? "GET");
    const h = route.methods[method];
    if (!h) throw new MethodNotAllowedError(Object.keys(route.methods));
    await h(req, res, expectContinue);
  } catch (err) {
    const e = toHttpError(err, route?.dialect ?? "torchserve");
    if (e.kind !== "not_found" && e.kind !== "method_not_allowed") {
      metrics.rejected.inc({
        reason: e.kind === "internal" || e.kind === "inference_failed" ? "error" : e.kind,
      });
    }
    if (e.status >= 500 && e.kind !== "not_ready" && e.kind !== "overloaded") {
      ctx.log("error", "request failed", { path, error: (err as Error)?.stack ?? String(err) });
    }
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    // A body we did not read would be parsed as the next request: close the connection, but
    // linger (discarding the rest of the upload) so that the client gets to read this answer.
    if (!req.complete) {
      e.headers.connection = "close";
      req.resume();
      lingerAfterResponse(req.socket);
    }
    sendJson(res, e.status, e.body, e.headers);
  }
}

/**
 * Requests Node rejects before they reach a handler (header timeout, malformed request line,
 * oversized headers, body cut short): answered through the same typed errors and mapping.
 */
function onClientError(metrics: ServerMetrics, err: NodeJS.ErrnoException, socket: Duplex): void {
  const pending = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (isLingering(socket)) return; // more of the same client's bytes after our answer
  if (err.code === "ECONNRESET" || !socket.writable || pending?.headersSent) {
    socket.destroy();
    return;
  }
  const typed =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? new RequestTimeoutError("request headers or body did not arrive in time")
      : err.code === "HPE_HEADER_OVERFLOW"
        ? new HeadersTooLargeError("request headers too large")
        : new BadInputError(`malformed HTTP request (${err.code ?? "unknown"})`);
  metrics.rejected.inc({ reason: typed.kind === "bad_input" ? "bad_request" : typed.kind });
  socket.write(rawResponse(toHttpError(typed, "torchserve")));
  lingerClose(socket);
}

export function createApp(ctx: AppContext, t: TimeoutOptions): Server {
  const server = createServer({
    requestTimeout: t.requestTimeoutMs,
    headersTimeout: t.headersTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    // Node checks the two timeouts above only this often (default 30 s): keep it well below them.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(t.headersTimeoutMs / 4))),
  });
  server.on("request", (req, res) => void handle(ctx, req, res, false));
  // With Expect: 100-continue the upload waits until admission and size checks have passed.
  server.on("checkContinue", (req, res) => void handle(ctx, req, res, true));
  server.on("clientError", (err, socket) => onClientError(ctx.metrics, err, socket));
  return server;
}

/** /metrics on its own port (and nothing else there). */
export function createMetricsApp(metrics: ServerMetrics): Server {
  return createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      sendJson(res, 404, { error: "only GET /metrics is served on this port" });
      return;
    }
    try {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(text);
    } catch (err) {
      sendJson(res, 500, { error: (err as Error).message });
    }
  });
}
