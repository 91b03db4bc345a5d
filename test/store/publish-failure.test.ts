/**
 * A publish that fails after the upload, while writing the catalog, must leave the catalog as it
 * was: no card, no half-written file, no local model copy, no empty folders. The failure is
 * injected into the card write, the one step a real run cannot be made to fail on cue.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { publishRelease } from "../../generator/src/publish.ts";
import { listTree, tempDir, trainedModel } from "./helpers.ts";

const fault = vi.hoisted(() => ({ onCardWrite: false }));

vi.mock("../../generator/src/store/atomic-file.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../generator/src/store/atomic-file.ts")>();
  return {
    ...real,
    writeAtomically: (...args: Parameters<typeof real.writeAtomically>) => {
      if (fault.onCardWrite && args[0].endsWith("model-card.json")) throw new Error("disk full (injected)");
      return real.writeAtomically(...args);
    },
  };
});

describe("a publish that fails while writing the catalog", () => {
  it("leaves the catalog untouched, and a re-run after the fault completes it", async () => {
    const work = await tempDir("fail");
    const releasesDir = join(work, "releases");
    const store = join(work, "store");
    const storeUri = pathToFileURL(store).href;
    await publishRelease({
      ...(await trainedModel(join(work, "old"), { version: "0.9.0" })),
      storeUri,
      releasesDir,
    });
    const before = await listTree(releasesDir);

    const trained = await trainedModel(join(work, "run-1"));
    fault.onCardWrite = true;
    await expect(publishRelease({ ...trained, storeUri, releasesDir, keepLocal: true })).rejects.toThrow(
      /disk full/,
    );
    fault.onCardWrite = false;
    expect(await listTree(releasesDir)).toEqual(before);
    expect(await listTree(store)).toContain("wms/1.0.0/model.onnx"); // the failure came after the upload

    const rerun = await publishRelease({ ...trained, storeUri, releasesDir, keepLocal: true });
    expect(rerun.status).toBe("published");
    expect(await listTree(join(releasesDir, "wms/1.0.0"))).toEqual(["model-card.json", "model.onnx"]);
  });
});
