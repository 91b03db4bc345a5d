/**
 * One card, three readers: training (Python, jsonschema), the generator and the model server
 * (TypeScript, ajv) accept and refuse exactly the same cards, the two-artifact cards of the
 * release catalog among them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCard as generatorParse } from "../generator/src/model-card.ts";
import { cardArtifacts, type ModelCard } from "../model/model-card.ts";
import { parseCard as serverParse } from "../model/server/src/model/card.ts";
import { REPO_ROOT } from "./support/cli.ts";

const PYTHON = join(REPO_ROOT, ".venv/bin/python");
const RELEASES = join(REPO_ROOT, "model/releases/wms");

/** training's verdict on each card: "ok", or its error text */
function pythonVerdicts(cards: unknown[]): string[] {
  const script = `
import json, sys
sys.path.insert(0, "model/training")
from wms_training.card import validate_card
for card in json.load(sys.stdin):
    try:
        validate_card(card)
        print(json.dumps("ok"))
    except ValueError as e:
        print(json.dumps(str(e)))
`;
  const r = spawnSync(PYTHON, ["-c", script], {
    cwd: REPO_ROOT,
    input: JSON.stringify(cards),
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

const verdict = (parse: () => unknown) => {
  try {
    parse();
    return "ok";
  } catch (e) {
    // the generator's WmsError lists its problems by field; the server's message names them
    const problems = (e as { problems?: { field?: string; message: string }[] }).problems ?? [];
    return [(e as Error).message, ...problems.map((p) => `${p.field}: ${p.message}`)].join("\n");
  }
};

const catalog = readdirSync(RELEASES).map((v) =>
  JSON.parse(readFileSync(join(RELEASES, v, "model-card.json"), "utf8")),
);
const v110: ModelCard = JSON.parse(readFileSync(join(RELEASES, "1.1.0/model-card.json"), "utf8"));

describe.skipIf(!existsSync(PYTHON))("the model card, read by training, generator and server", () => {
  it("release 1.1.0 lists two artifacts, fp32 and int8, each with its own file and scores", () => {
    expect(cardArtifacts(v110).map((a) => [a.precision, a.artifact.uri])).toEqual([
      ["fp32", "s3://wms-models/wms/1.1.0/model.onnx"],
      ["int8", "s3://wms-models/wms/1.1.0/model.int8.onnx"],
    ]);
    expect(v110.variants?.int8?.metrics.test.n).toBe(v110.metrics.test.n);
  });

  it("all three accept every card of the catalog and refuse the same broken ones", () => {
    const int8 = v110.variants?.int8;
    if (!int8) throw new Error("1.1.0 has no int8 variant");
    const broken = [
      // the int8 file published under the fp32 name
      { ...v110, variants: { int8: { ...int8, uri: "s3://wms-models/wms/1.1.0/model.onnx" } } },
      // no record of how it was calibrated
      { ...v110, variants: { int8: { ...int8, calibration: undefined } } },
      // an fp32 artifact claiming another precision
      { ...v110, artifact: { ...v110.artifact, precision: "int8" } },
      // a precision the schema does not know
      { ...v110, variants: { int4: int8 } },
      // the old, unpublished quantization block
      { ...v110, quantization: { int8: { file: "model.int8.onnx" } } },
    ].map((c) => JSON.parse(JSON.stringify(c)));
    const cards = [...catalog, ...broken];
    const python = pythonVerdicts(cards);
    const generator = cards.map((c) => verdict(() => generatorParse(JSON.stringify(c), "card.json")));
    const server = cards.map((c) => verdict(() => serverParse(JSON.stringify(c), "card.json")));
    const ok = (vs: string[]) => vs.map((v) => v === "ok");
    const expected = [...catalog.map(() => true), ...broken.map(() => false)];
    expect(ok(python)).toEqual(expected);
    expect(ok(generator)).toEqual(expected);
    expect(ok(server)).toEqual(expected);
    expect(python[catalog.length]).toMatch(/variants\/int8\/uri/);
    expect(generator[catalog.length]).toMatch(/variants\.int8\.uri: must match pattern/);
    expect(server[catalog.length]).toMatch(/\[\/variants\/int8\/uri\] must match pattern/);
  });
});
