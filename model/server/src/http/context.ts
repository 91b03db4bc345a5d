/** What every handler may use; built once by server.ts. */

import type { InflightBytes } from "../inflight-bytes.ts";
import type { Logger } from "../log.ts";
import type { ServerMetrics } from "../metrics.ts";
import type { ModelHost } from "../model/lifecycle.ts";
import type { BatchQueue } from "../queue.ts";
import type { Shadow } from "../shadow.ts";
import type { BodyRate } from "./body.ts";
import type { JsonTensors } from "./json-tensors.ts";

export interface HttpLimits {
  /** bytes of an image body (raw or multipart) */
  maxBodyBytes: number;
  /** bytes of an Open Inference Protocol JSON body (tensors as JSON numbers are ~20 bytes each) */
  maxJsonBytes: number;
  /** width x height an image header may declare */
  maxPixels: number;
}

export interface AppContext {
  host: ModelHost;
  queue: BatchQueue<Float32Array, Float32Array>;
  metrics: ServerMetrics;
  limits: HttpLimits;
  /** body bytes held by all requests together */
  uploads: InflightBytes;
  bodyRate: BodyRate;
  /** v2 JSON bodies are parsed here, off the event loop */
  json: JsonTensors;
  /** copies answered predictions to another version and compares the masks (--shadow) */
  shadow: Shadow | undefined;
  log: Logger;
  /** a log line per answered request (serve's default; --no-access-log turns it off) */
  accessLog: boolean;
  /** decode every photo at full size and resize it as Pillow does (--exact-preprocess), not at the model's scale */
  exactPreprocess: boolean;
}
