/**
 * The store's one rule: a published object is never replaced. Writing the same bytes again is
 * fine (publishing is idempotent); writing different bytes under the same URI is refused.
 */
import { storeError } from "../errors.ts";
import { type Digest, describeDigest, sameDigest } from "./digest.ts";

/** Returns "identical" when `existing` holds exactly `wanted`, throws the refusal otherwise. */
export function acceptExisting(uri: string, existing: Digest, wanted: Digest): "identical" {
  if (sameDigest(existing, wanted)) return "identical";
  throw storeError([
    {
      field: "artifact.uri",
      message: `refusing to overwrite ${uri}: it holds ${describeDigest(existing)}, this model has ${describeDigest(wanted)}`,
      hint: "published versions are never overwritten; give the card a new version and publish that",
    },
  ]);
}
