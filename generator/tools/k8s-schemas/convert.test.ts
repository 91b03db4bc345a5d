/** The conversion rules, on small upstream-shaped inputs (the vendored files are their output). */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type Crd, crdKinds, ecmaPattern, newReport, type Schema, shareRepeated } from "./convert.ts";

const META = "kubernetes.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

const crd = (schema: Schema, served = true): Crd => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    names: { kind: "Widget" },
    versions: [
      { name: "v1", served, schema: { openAPIV3Schema: schema } },
      { name: "v0", served: false, schema: { openAPIV3Schema: schema } },
    ],
  },
});

describe("CRD → strict JSON Schema", () => {
  const report = newReport();
  const [widget, ...rest] = crdKinds(
    crd({
      type: "object",
      description: "a widget",
      properties: {
        metadata: { type: "object" },
        spec: {
          type: "object",
          required: ["size"],
          "x-kubernetes-validations": [{ rule: "self.size > 0" }],
          properties: {
            size: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] },
            port: { "x-kubernetes-int-or-string": true },
            note: { type: "string", nullable: true, default: "x" },
            ratio: { type: "number", minimum: 0, exclusiveMinimum: true },
            labels: { type: "object", additionalProperties: { type: "string" } },
            raw: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
            empty: { type: "object" },
            when: { type: "string", format: "duration" },
          },
        },
      },
    }),
    META,
    report,
  );

  it("one kind per served version, apiVersion/kind pinned, metadata as Kubernetes' ObjectMeta", () => {
    expect(rest).toEqual([]);
    expect(widget?.key).toBe("example.com/v1/Widget");
    const props = widget?.schema.properties as Record<string, Schema>;
    expect(props.apiVersion).toEqual({ type: "string", enum: ["example.com/v1"] });
    expect(props.kind).toEqual({ type: "string", enum: ["Widget"] });
    expect(props.metadata).toEqual({ $ref: META });
    expect(widget?.schema.additionalProperties).toBe(false);
  });

  it("closes objects, keeps maps and preserve-unknown-fields open, converts the Kubernetes extensions", () => {
    const spec = ((widget?.schema.properties ?? {}) as Record<string, Schema>).spec as Schema;
    const p = spec.properties as Record<string, Schema>;
    expect(spec.additionalProperties).toBe(false);
    expect(p.size).toEqual({ anyOf: [{ type: "integer" }, { type: "string" }] });
    expect(p.port).toEqual({ anyOf: [{ type: "integer" }, { type: "string" }] });
    expect(p.note).toEqual({ type: ["string", "null"] });
    expect(p.ratio).toEqual({ type: "number", exclusiveMinimum: 0 });
    expect(p.labels).toEqual({ type: "object", additionalProperties: { type: "string" } });
    expect(p.raw).toEqual({ type: "object" });
    expect(p.empty).toEqual({ type: "object", additionalProperties: false });
    expect(p.when).toEqual({ type: "string" });
    expect(report.celRules).toBe(1);
    expect(report.droppedFormats.get("duration")).toBe(1);
  });
});

describe("ecmaPattern", () => {
  it("turns RE2's (?i) into letter classes up to the end of its group", () => {
    expect(ecmaPattern("^(?i)ab(c)$")).toBe("^[aA][bB]([cC])$");
    expect(ecmaPattern("^((?i)may|jun)-x$")).toBe("^([mM][aA][yY]|[jJ][uU][nN])-x$");
    const months = ecmaPattern("^((?i)may|1[0-2])(?::((?i)june))?$") as string;
    expect(["MAY", "may:JUNE", "10", "13", "x:june"].map((s) => new RegExp(months, "u").test(s))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  it("leaves escapes and classes alone, and gives up on what JavaScript cannot compile", () => {
    expect(ecmaPattern("^[a-z]\\.(?i)x$")).toBe("^[a-z]\\.[xX]$");
    expect(ecmaPattern("(?P<name>x)")).toBeUndefined();
  });
});

describe("shareRepeated", () => {
  it("stores a large subschema that occurs twice once, by content, and refers to it", () => {
    const big: Schema = { type: "object", properties: { a: { type: "string", pattern: "x".repeat(20) } } };
    const defs: Record<string, Schema> = {
      One: { type: "object", properties: { x: structuredClone(big) } },
      Two: { type: "object", properties: { y: structuredClone(big), z: { type: "string" } } },
    };
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const name = `shared.${sha(JSON.stringify(big)).slice(0, 12)}`;
    expect(shareRepeated(defs, sha, 60)).toBe(1);
    expect(((defs.One?.properties ?? {}) as Record<string, Schema>).x).toEqual({ $ref: `#/$defs/${name}` });
    expect(((defs.Two?.properties ?? {}) as Record<string, Schema>).y).toEqual({ $ref: `#/$defs/${name}` });
    expect(defs[name]).toEqual(big);
    expect(((defs.Two?.properties ?? {}) as Record<string, Schema>).z).toEqual({ type: "string" });
  });
});
