/**
 * The one place where errors become HTTP statuses. Everything else throws typed errors
 * (src/errors.ts); anything untyped is a bug and answers 500 without internals.
 */
import { type ServerResponse, STATUS_CODES } from "node:http";
import { type ErrorKind, MethodNotAllowedError, OverloadedError, WmsError } from "../errors.ts";

export const STATUS: Record<ErrorKind, number> = {
  bad_input: 400,
  not_found: 404,
  method_not_allowed: 405,
  timeout: 408,
  too_large: 413,
  headers_too_large: 431,
  unsupported_media_type: 415,
  inference_failed: 500,
  not_ready: 503,
  overloaded: 503,
};

/** TorchServe's exception names, so TorchServe clients read our errors as they read its own. */
const TORCHSERVE_TYPE: Record<ErrorKind, string> = {
  bad_input: "BadRequestException",
  timeout: "RequestTimeoutException",
  headers_too_large: "RequestHeaderFieldsTooLargeException",
  not_found: "ResourceNotFoundException",
  method_not_allowed: "MethodNotAllowedException",
  too_large: "RequestEntityTooLargeException",
  unsupported_media_type: "UnsupportedMediaTypeException",
  inference_failed: "InternalServerException",
  not_ready: "ServiceUnavailableException",
  overloaded: "ServiceUnavailableException",
};

/** TorchServe-style `{code,type,message}` or Open Inference Protocol `{error}`. */
export type ErrorDialect = "torchserve" | "v2";

export interface HttpError {
  status: number;
  kind: ErrorKind | "internal";
  headers: Record<string, string>;
  body: unknown;
}

export function toHttpError(err: unknown, dialect: ErrorDialect): HttpError {
  if (err instanceof WmsError) {
    const status = STATUS[err.kind];
    const headers: Record<string, string> = {};
    if (err instanceof OverloadedError) headers["retry-after"] = String(err.retryAfterSeconds);
    if (err instanceof MethodNotAllowedError) headers.allow = err.allow.join(", ");
    const body =
      dialect === "v2"
        ? { error: err.message }
        : { code: status, type: TORCHSERVE_TYPE[err.kind], message: err.message };
    return { status, kind: err.kind, headers, body };
  }
  const message = "internal error";
  return {
    status: 500,
    kind: "internal",
    headers: {},
    body: dialect === "v2" ? { error: message } : { code: 500, type: "InternalServerException", message },
  };
}

/** For sockets Node took away from the handler (parser errors, timeouts): a raw response. */
export function rawResponse(e: HttpError): string {
  const body = JSON.stringify(e.body);
  const reason = STATUS_CODES[e.status] ?? "Error";
  const headers = Object.entries({ ...e.headers, "content-type": "application/json", connection: "close" })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return `HTTP/1.1 ${e.status} ${reason}\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
