/**
 * docs/flow.svg is generated from docs/flow.yaml (`npm run diagram`): regenerating gives the
 * committed bytes, so an edit to one without the other fails here. The README shows it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diagramFromSource, parseDiagram, renderDiagram, TARGET } from "../generator/tools/diagram.ts";
import { REPO_ROOT } from "./support/cli.ts";

describe("docs/flow.svg", () => {
  it("is what npm run diagram makes of docs/flow.yaml, byte for byte", () => {
    expect(
      diagramFromSource() === readFileSync(TARGET, "utf8"),
      "run npm run diagram and commit docs/flow.svg",
    ).toBe(true);
  });

  it("is the same on a second render (deterministic)", () => {
    expect(diagramFromSource()).toBe(diagramFromSource());
  });

  it("shows the flow's steps in order, train to verdict commit", () => {
    const svg = readFileSync(TARGET, "utf8");
    const steps = [
      "train",
      "publish",
      "catalog",
      "version file",
      "render",
      "Argo CD",
      "gateway split",
      "analysis",
      "verdict commit",
    ];
    const at = steps.map((s) => svg.indexOf(`>${s}</text>`));
    expect(at).not.toContain(-1);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it("refuses a source whose edge names no box, or whose text would not fit", () => {
    expect(() =>
      parseDiagram("title: t\nnodes: [{id: a, row: 0, col: 0, label: a}]\nedges: [{from: a, to: b}]"),
    ).toThrow(/names no node b/);
    expect(() =>
      parseDiagram(
        `title: t\nnodes: [{id: a, row: 0, col: 0, label: a, detail: ["${"x".repeat(40)}"]}]\nedges: []`,
      ),
    ).toThrow(/at most two detail lines/);
    expect(
      renderDiagram(parseDiagram("title: a<b\nnodes: [{id: a, row: 0, col: 0, label: x&y}]\nedges: []")),
    ).toContain(">x&amp;y</text>");
  });

  it("the README shows it", () => {
    expect(readFileSync(join(REPO_ROOT, "README.md"), "utf8")).toMatch(/!\[[^\]]+\]\(docs\/flow\.svg\)/);
  });
});
