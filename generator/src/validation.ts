/**
 * Schema validation of rendered objects against the upstream Kubernetes / CRD schemas,
 * offline and strict like kubeconform -strict (implementation and vendored schemas: validate/).
 */
import type { Problem } from "./errors.ts";
import type { RenderedObject } from "./render/index.ts";
import { validateObjects } from "./validate/index.ts";

export function validateRendered(dir: string, objects: RenderedObject[]): Problem[] {
  return validateObjects(objects.map((o, index) => ({ file: `${dir}/${o.file}`, index, object: o.object })));
}
