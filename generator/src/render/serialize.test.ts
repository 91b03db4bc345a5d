import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { canonical, toYaml } from "./serialize.ts";

describe("toYaml", () => {
  const tricky = [
    "1.4.0",
    "0.2.0",
    "8080",
    "1e3",
    "0x1F",
    "0o17",
    "true",
    "False",
    "yes",
    "NO",
    "on",
    "off",
    "y",
    "n",
    "null",
    "~",
    "",
    " lead",
    "trail ",
    "a: b",
    "a #b",
    "#x",
    "-x",
    "- x",
    "? x",
    ":x",
    "x:",
    "[a]",
    "{a}",
    "&a",
    "*a",
    "!t",
    "|",
    ">",
    "'q'",
    '"q"',
    "%x",
    "@x",
    "`x",
    "2026-11-26",
    "2026-11-26T07:00:00Z",
    ".inf",
    "-.inf",
    ".nan",
    "<<",
    "line1\nline2\n",
    "line1\nline2",
    "line1\n\n",
    "  indented\nblock\n",
    "tab\there",
    "a\r\nb",
    "ünïcode",
    "1_000",
    "s3://wms-models/wms/1.4.0/model.onnx",
    "app.kubernetes.io/name",
    "123456789012.dkr.ecr.eu-central-1.amazonaws.com/x@sha256:ab",
  ];

  it("round-trips tricky strings as strings (yaml 1.2 and 1.1 readers)", () => {
    const data = {
      apiVersion: "v1",
      kind: "X",
      metadata: { name: "n" },
      data: Object.fromEntries(tricky.map((s, i) => [`k${i}`, s])),
      keys: Object.fromEntries(tricky.filter(Boolean).map((s) => [s, 1])),
    };
    for (const version of ["1.2", "1.1"] as const) {
      expect(parse(toYaml(data), { version })).toEqual(canonical(data));
    }
  });

  it("round-trips nested maps, sequences, empties, numbers and booleans", () => {
    const data = {
      apiVersion: "v1",
      kind: "X",
      metadata: { name: "n", labels: {} },
      spec: { a: [], b: [{ x: 1, y: [{ z: true }, "s", [1, 2]] }, {}, 2.5], c: { d: { e: -1 } }, f: false },
    };
    expect(parse(toYaml(data))).toEqual(canonical(data));
  });

  it("puts apiVersion, kind, metadata first and sorts the rest; drops null and undefined", () => {
    const y = toYaml({
      spec: { b: 1, a: null, c: undefined },
      metadata: { name: "x" },
      kind: "K",
      apiVersion: "v1",
    });
    expect(y).toBe("apiVersion: v1\nkind: K\nmetadata:\n  name: x\nspec:\n  b: 1\n");
  });
});
