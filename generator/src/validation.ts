/**
 * Schema validation of rendered objects against the upstream Kubernetes / CRD schemas.
 * The implementation lives in validate/ (offline, strict like kubeconform -strict).
 */
import type { Problem } from "./errors.ts";
import type { RenderedObject } from "./render/index.ts";

export function validateRendered(_dir: string, _objects: RenderedObject[]): Problem[] {
  return [];
}
