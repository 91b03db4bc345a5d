/**
 * Prometheus metrics, one registry per server (tests run several servers in one process).
 * Served on their own port so that the prediction port never exposes them.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type Stage = "decode" | "preprocess" | "queue" | "inference" | "postprocess" | "total";

export class ServerMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: "wms_http_requests_total",
    help: "HTTP requests answered, by endpoint and status code",
    labelNames: ["endpoint", "code"] as const,
    registers: [this.registry],
  });

  readonly requestSeconds = new Histogram({
    name: "wms_http_request_duration_seconds",
    help: "From request headers parsed to response sent, by endpoint and status code",
    labelNames: ["endpoint", "code"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly stageSeconds = new Histogram({
    name: "wms_stage_duration_seconds",
    help: "Time per prediction stage (queue = waiting for a preparation turn and for the inference worker; total = whole request)",
    labelNames: ["stage"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: "wms_queue_depth",
    help: "Admitted prediction requests not yet in inference",
    registers: [this.registry],
  });

  readonly inFlight = new Gauge({
    name: "wms_in_flight_requests",
    help: "HTTP requests being handled",
    registers: [this.registry],
  });

  readonly rejected = new Counter({
    name: "wms_rejected_total",
    help: "Requests refused, by reason (overloaded, not_ready, too_large, unsupported_media_type, bad_input, timeout, bad_request)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly modelInfo = new Gauge({
    name: "wms_model_info",
    help: "The loaded model (always 1); precision is which of the card's artifacts (fp32, int8) it is",
    labelNames: ["name", "version", "sha256", "precision"] as const,
    registers: [this.registry],
  });

  readonly modelLoaded = new Gauge({
    name: "wms_model_loaded",
    help: "1 when the model is loaded, verified and warmed up (the same condition as /ping)",
    registers: [this.registry],
  });

  readonly coverage = new Histogram({
    name: "wms_mask_coverage_ratio",
    help: "Share of the photo covered by the predicted mask (drift signal: meters fill a typical share)",
    buckets: [0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1],
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: "wms_batch_size",
    help: "Images per inference batch",
    buckets: [1, 2, 4, 8, 16],
    registers: [this.registry],
  });

  readonly sessionBatches = new Counter({
    name: "wms_inference_batches_total",
    help: "Batches handed to an ONNX Runtime session, by kind: wide (all --threads; a lone request) or narrow (one of --instances side by side under load)",
    labelNames: ["session"] as const,
    registers: [this.registry],
  });

  /** live vs shadow (shadow.ts): how alike the two versions' masks are on the same photos */
  readonly shadowAgreement = new Histogram({
    name: "wms_shadow_agreement_iou",
    help: "Mask IoU of this (live) version's answer against the shadow version's on the same photo",
    labelNames: ["live_version", "shadow_version"] as const,
    buckets: [0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995, 0.999, 1],
    registers: [this.registry],
  });

  readonly shadowCoverageDelta = new Histogram({
    name: "wms_shadow_coverage_delta",
    help: "Shadow mask coverage minus live mask coverage on the same photo",
    labelNames: ["live_version", "shadow_version"] as const,
    buckets: [-0.2, -0.1, -0.05, -0.02, -0.01, -0.005, 0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
    registers: [this.registry],
  });

  readonly shadowRequests = new Counter({
    name: "wms_shadow_requests_total",
    help: "Copies of answered predictions for the shadow version, by result (compared, dropped when max in flight or the body budget is full, error, timeout)",
    labelNames: ["live_version", "shadow_version", "result"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.modelLoaded.set(0);
  }
}
