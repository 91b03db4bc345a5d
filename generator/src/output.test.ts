import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diffTrees, readTree, writeRendered } from "./output.ts";

describe("writeRendered", () => {
  it("replaces the folder whole: stale files disappear", () => {
    const env = mkdtempSync(join(tmpdir(), "wms-out-"));
    writeRendered(
      env,
      new Map([
        ["a/x.yaml", "1"],
        ["b/y.yaml", "2"],
      ]),
    );
    writeRendered(env, new Map([["a/x.yaml", "3"]]));
    expect([...readTree(join(env, "rendered"))]).toEqual([["a/x.yaml", "3"]]);
  });

  it("leaves the previous output untouched when writing fails half-way", () => {
    const env = mkdtempSync(join(tmpdir(), "wms-out-"));
    writeRendered(env, new Map([["a/x.yaml", "old"]]));
    // "a" as a file and "a/b" below it cannot both exist: the write fails in the temp folder.
    expect(() =>
      writeRendered(
        env,
        new Map([
          ["a", "file"],
          ["a/b.yaml", "new"],
        ]),
      ),
    ).toThrow();
    expect(readFileSync(join(env, "rendered/a/x.yaml"), "utf8")).toBe("old");
    expect(existsSync(join(env, "rendered/a/b.yaml"))).toBe(false);
    // and no temp folders are left behind
    expect(readTree(env).size).toBe(1);
  });

  it("diffTrees reports changed, added and removed files only", () => {
    const d = diffTrees(
      "r",
      new Map([
        ["same", "1"],
        ["changed", "a\n"],
        ["gone", "x"],
      ]),
      new Map([
        ["same", "1"],
        ["changed", "b\n"],
        ["new", "y"],
      ]),
    );
    expect(d).toHaveLength(3);
    expect(d.join("\n")).toMatch(/-a\n\+b/);
  });
});
