/** publish and verify with a file:// store, and the checks that run before anything is written. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { WmsError } from "../../generator/src/errors.ts";
import { readCard } from "../../generator/src/model-card.ts";
import { publishRelease } from "../../generator/src/publish.ts";
import { verifyArtifacts } from "../../generator/src/verify.ts";
import { listTree, tempDir, trainedModel } from "./helpers.ts";

async function setup() {
  const work = await tempDir("file");
  const store = join(work, "store");
  return {
    work,
    store,
    storeUri: pathToFileURL(store).href,
    releasesDir: join(work, "releases"),
    trained: await trainedModel(join(work, "run-1")),
  };
}

describe("publish to file://", () => {
  it("round trips: publish, verify clean, then verify catches a changed or missing object", async () => {
    const { store, storeUri, releasesDir, trained } = await setup();
    const { card, cardPath, status } = await publishRelease({ ...trained, storeUri, releasesDir });
    expect(status).toBe("published");
    expect(card.artifact.uri).toBe(`${storeUri}/wms/1.0.0/model.onnx`);
    expect(readCard(cardPath)).toEqual(card);
    expect(await listTree(store)).toEqual(["wms/", "wms/1.0.0/", "wms/1.0.0/model.onnx"]);
    expect(await verifyArtifacts([{ card, file: cardPath }])).toEqual([]);

    await writeFile(fileURLToPath(card.artifact.uri), Buffer.alloc(card.artifact.bytes));
    const missing = { ...card, artifact: { ...card.artifact, uri: `${storeUri}/wms/2.0.0/model.onnx` } };
    const problems = await verifyArtifacts([
      { card, file: cardPath },
      { card: missing, file: "releases/wms/2.0.0/model-card.json" },
    ]);
    expect(problems.map((p) => [p.file, p.field])).toEqual([
      [cardPath, "artifact.sha256"],
      ["releases/wms/2.0.0/model-card.json", "artifact.uri"],
    ]);
  });

  it("accepts a plain directory as the store and records an absolute file URI", async () => {
    const { store, releasesDir, trained } = await setup();
    const { card } = await publishRelease({ ...trained, storeUri: store, releasesDir });
    expect(card.artifact.uri).toBe(pathToFileURL(join(store, "wms/1.0.0/model.onnx")).href);
  });

  it("is idempotent, and refuses other bytes under the same version", async () => {
    const { work, storeUri, releasesDir, trained } = await setup();
    await publishRelease({ ...trained, storeUri, releasesDir, keepLocal: true });
    const tree = await listTree(releasesDir);
    expect(tree).toEqual(["wms/", "wms/1.0.0/", "wms/1.0.0/model-card.json", "wms/1.0.0/model.onnx"]);

    expect((await publishRelease({ ...trained, storeUri, releasesDir, keepLocal: true })).status).toBe(
      "already-published",
    );
    const other = await trainedModel(join(work, "run-2"));
    await expect(publishRelease({ ...other, storeUri, releasesDir })).rejects.toThrow(/already published/);
    expect(await listTree(releasesDir)).toEqual(tree);
  });
});

describe("publish checks its input before writing anything", () => {
  it("rejects a corrupted card, naming every bad field", async () => {
    const { store, storeUri, releasesDir, trained } = await setup();
    const broken = { ...trained.card, version: "1.0", license: undefined };
    broken.artifact = { ...broken.artifact, sha256: "not-a-digest", opset: 3 };
    await writeFile(trained.cardPath, JSON.stringify(broken));

    const err = await publishRelease({ ...trained, storeUri, releasesDir }).catch((e) => e);
    expect(err).toBeInstanceOf(WmsError);
    expect(err.kind).toBe("input");
    const fields = err.problems.map((p: { field: string }) => p.field);
    expect(fields).toEqual(
      expect.arrayContaining(["version", "artifact.sha256", "artifact.opset", "(root)"]),
    );
    expect(err.problems.every((p: { file: string }) => p.file === trained.cardPath)).toBe(true);
    expect(await listTree(store)).toEqual([]);
    expect(await listTree(releasesDir)).toEqual([]);
  });

  it("rejects a card that is not JSON", async () => {
    const { storeUri, releasesDir, trained } = await setup();
    await writeFile(trained.cardPath, "{ not json");
    await expect(publishRelease({ ...trained, storeUri, releasesDir })).rejects.toThrow(/not valid JSON/);
  });

  it("rejects a model that is not the one the card describes", async () => {
    const { store, storeUri, releasesDir, trained } = await setup();
    await writeFile(trained.modelPath, "re-exported since");
    const err = await publishRelease({ ...trained, storeUri, releasesDir }).catch((e) => e);
    expect(err.problems.map((p: { field: string }) => p.field)).toEqual([
      "artifact.sha256",
      "artifact.bytes",
    ]);
    expect(await listTree(store)).toEqual([]);
    expect(await listTree(releasesDir)).toEqual([]);
  });

  it("names a missing model or card file", async () => {
    const { storeUri, releasesDir, trained } = await setup();
    await expect(
      publishRelease({ ...trained, modelPath: "/nonexistent/model.onnx", storeUri, releasesDir }),
    ).rejects.toThrow(/\/nonexistent\/model\.onnx.*cannot read the model/);
    await expect(
      publishRelease({ ...trained, cardPath: "/nonexistent/card.json", storeUri, releasesDir }),
    ).rejects.toThrow(/cannot read the card/);
  });
});
