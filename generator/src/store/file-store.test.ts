import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import { tempDir } from "../../../test/store/helpers.ts";
import { WmsError } from "../errors.ts";
import { hashFile } from "./digest.ts";
import { FileStore } from "./file-store.ts";

describe("FileStore", () => {
  let dir: string;
  let uri: string;
  const store = new FileStore();

  beforeEach(async () => {
    dir = await tempDir("file-store");
    uri = pathToFileURL(join(dir, "store/wms/1.0.0/model.onnx")).href;
    await writeFile(join(dir, "a.onnx"), "model A");
    await writeFile(join(dir, "b.onnx"), "model B, different");
  });

  it("stores once, then accepts identical bytes and refuses different ones", async () => {
    const a = await hashFile(join(dir, "a.onnx"));
    expect(await store.putOnce(uri, join(dir, "a.onnx"), a)).toBe("created");
    expect(await store.putOnce(uri, join(dir, "a.onnx"), a)).toBe("identical");
    const b = await hashFile(join(dir, "b.onnx"));
    await expect(store.putOnce(uri, join(dir, "b.onnx"), b)).rejects.toThrow(/refusing to overwrite/);
    expect(await readFile(join(dir, "store/wms/1.0.0/model.onnx"), "utf8")).toBe("model A");
  });

  it("refuses to store bytes that do not match the digest given, leaving nothing behind", async () => {
    const a = await hashFile(join(dir, "a.onnx"));
    await expect(store.putOnce(uri, join(dir, "b.onnx"), a)).rejects.toThrow(/content does not match/);
    expect(await readdir(join(dir, "store/wms/1.0.0"))).toEqual([]);
  });

  it("inspects by hashing, and says undefined for a missing object", async () => {
    expect(await store.inspect(uri)).toBeUndefined();
    const a = await hashFile(join(dir, "a.onnx"));
    await store.putOnce(uri, join(dir, "a.onnx"), a);
    expect(await store.inspect(uri)).toEqual({ uri, source: "content", ...a });
  });

  it("downloads with a digest check; a mismatch keeps the destination as it was", async () => {
    const a = await hashFile(join(dir, "a.onnx"));
    await store.putOnce(uri, join(dir, "a.onnx"), a);
    const dest = join(dir, "cache/model.onnx");
    expect(await store.get(uri, dest, { sha256: a.sha256 })).toEqual(a);
    expect(await readFile(dest, "utf8")).toBe("model A");

    await writeFile(dest, "old");
    const err = await store.get(uri, dest, { sha256: "0".repeat(64) }).catch((e) => e);
    expect(err).toBeInstanceOf(WmsError);
    expect(await readFile(dest, "utf8")).toBe("old");
    expect((await readdir(join(dir, "cache"))).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("reports a missing object on get as a store error", async () => {
    await mkdir(join(dir, "cache"));
    await expect(store.get(uri, join(dir, "cache/x"))).rejects.toMatchObject({ kind: "store" });
  });
});
