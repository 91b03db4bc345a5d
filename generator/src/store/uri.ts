/**
 * Store URIs. A store is named by a root (`s3://bucket/prefix` or `file:///abs/dir`); a release
 * lives at `<root>/<name>/<version>/model.onnx`, and that full URI is what the card records.
 */
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inputError } from "../errors.ts";

/** How a store (or a model in one) is named; the schemas' URI patterns say the same. */
export const STORE_URI_HINT =
  "use s3://<bucket>/<prefix> or file:///<absolute path>, without . or .. segments, backslashes or control characters";

export type StoreLocation = { scheme: "file"; path: string } | { scheme: "s3"; bucket: string; key: string };

/** `field` names where the URI came from (a CLI flag, a card field), for the error message. */
export function parseStoreUri(uri: string, field = "store"): StoreLocation {
  const fail = (why: string) =>
    inputError([
      {
        field,
        message: `${why}: ${JSON.stringify(uri)}`,
        hint: STORE_URI_HINT,
      },
    ]);
  if (uri.startsWith("s3://")) {
    const rest = uri.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? "" : rest.slice(slash + 1);
    // S3's own bucket-name rule, so a typo fails here and not as a confusing server error.
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw fail("not a valid S3 bucket name");
    return { scheme: "s3", bucket, key: key.replace(/\/+$/, "") };
  }
  if (uri.startsWith("file:")) {
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch (e) {
      throw fail(`not a usable file URI (${(e as Error).message})`);
    }
    return { scheme: "file", path: path.length > 1 ? path.replace(/\/+$/, "") : path };
  }
  throw fail("unsupported store URI");
}

/**
 * Accepts a plain directory path as well (handy on the command line) and returns a URI.
 * Relative paths resolve against `cwd`, so the card always records an absolute location.
 */
export function normalizeStoreUri(input: string, cwd = process.cwd()): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(input)) {
    const loc = parseStoreUri(input);
    return loc.scheme === "s3" ? formatS3Uri(loc.bucket, loc.key) : pathToFileURL(loc.path).href;
  }
  return pathToFileURL(isAbsolute(input) ? input : resolve(cwd, input)).href;
}

export const formatS3Uri = (bucket: string, key: string) => `s3://${bucket}${key ? `/${key}` : ""}`;

/** Where a release's model lives in the store rooted at `storeUri`. */
export function releaseObjectUri(
  storeUri: string,
  name: string,
  version: string,
  file = "model.onnx",
): string {
  const root = normalizeStoreUri(storeUri);
  return `${root.replace(/\/+$/, "")}/${name}/${version}/${file}`;
}
