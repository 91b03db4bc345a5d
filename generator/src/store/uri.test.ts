import { describe, expect, it } from "vitest";
import { WmsError } from "../errors.ts";
import { normalizeStoreUri, parseStoreUri, releaseObjectUri } from "./uri.ts";

describe("store URIs", () => {
  it("splits s3 URIs into bucket and key, without trailing slashes", () => {
    expect(parseStoreUri("s3://wms-models/releases/")).toEqual({
      scheme: "s3",
      bucket: "wms-models",
      key: "releases",
    });
    expect(parseStoreUri("s3://wms-models")).toEqual({ scheme: "s3", bucket: "wms-models", key: "" });
  });

  it("turns file URIs into absolute paths", () => {
    expect(parseStoreUri("file:///srv/models/")).toEqual({ scheme: "file", path: "/srv/models" });
  });

  it("rejects what it cannot store to, naming the field", () => {
    for (const bad of ["http://x/y", "s3://A_Bucket/k", "file://host-name/dir", "models"]) {
      const err = (() => {
        try {
          parseStoreUri(bad, "artifact.uri");
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(WmsError);
      expect((err as WmsError).problems[0]?.field).toBe("artifact.uri");
    }
  });

  it("accepts a plain directory for convenience, made absolute", () => {
    expect(normalizeStoreUri("store", "/work/repo")).toBe("file:///work/repo/store");
    expect(normalizeStoreUri("s3://wms-models/p/")).toBe("s3://wms-models/p");
  });

  it("places a release at <root>/<name>/<version>/model.onnx", () => {
    expect(releaseObjectUri("s3://wms-models/releases/", "wms", "1.4.0")).toBe(
      "s3://wms-models/releases/wms/1.4.0/model.onnx",
    );
    expect(releaseObjectUri("s3://wms-models", "wms", "1.4.0")).toBe("s3://wms-models/wms/1.4.0/model.onnx");
    expect(releaseObjectUri("file:///srv/store", "wms", "2.0.0-rc.1")).toBe(
      "file:///srv/store/wms/2.0.0-rc.1/model.onnx",
    );
  });
});
