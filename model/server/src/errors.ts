/**
 * Typed errors of the model server. Each kind has exactly one HTTP status, assigned in
 * http/errors.ts and nowhere else; the model and queue code only says what went wrong.
 */

export type ErrorKind =
  | "bad_input"
  | "timeout"
  | "headers_too_large"
  | "too_large"
  | "unsupported_media_type"
  | "not_found"
  | "method_not_allowed"
  | "not_ready"
  | "overloaded"
  | "inference_failed";

export abstract class WmsError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request cannot be used: empty, truncated or corrupt image, malformed JSON tensor. */
export class BadInputError extends WmsError {
  readonly kind = "bad_input";
}

/** The request's headers or body did not arrive in time (slow or stalled client). */
export class RequestTimeoutError extends WmsError {
  readonly kind = "timeout";
}

/** More header bytes than Node accepts. */
export class HeadersTooLargeError extends WmsError {
  readonly kind = "headers_too_large";
}

/** Too many bytes in the body, or too many pixels declared by the image header. */
export class TooLargeError extends WmsError {
  readonly kind = "too_large";
}

/** Neither PNG nor JPEG (by magic bytes), or a content type the endpoint does not take. */
export class UnsupportedMediaTypeError extends WmsError {
  readonly kind = "unsupported_media_type";
}

export class NotFoundError extends WmsError {
  readonly kind = "not_found";
}

export class MethodNotAllowedError extends WmsError {
  readonly kind = "method_not_allowed";
  constructor(readonly allow: readonly string[]) {
    super(`method not allowed; use ${allow.join(", ")}`);
  }
}

/** The model is still loading, failed to load, or the server is draining for shutdown. */
export class NotReadyError extends WmsError {
  readonly kind = "not_ready";
}

/** The bounded queue is full; the client should come back after `retryAfterSeconds`. */
export class OverloadedError extends WmsError {
  readonly kind = "overloaded";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** ONNX Runtime (or the post-processing after it) failed on input that passed validation. */
export class InferenceError extends WmsError {
  readonly kind = "inference_failed";
}

/**
 * The model cannot be made ready: unreadable URI, sha256 mismatch, invalid card, corrupt
 * ONNX file. Not an HTTP error: the server stays up but never reports ready.
 */
export class ModelLoadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ModelLoadError";
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
