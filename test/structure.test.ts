/**
 * The structure the imports draw: no import circle among the generator's and the server's
 * modules, and no arrow from the generator into the server's sources (what both sides share
 * lives beside the model card: model/model-card.ts, model/card-schema.ts,
 * model/serving-contract.ts, and the server's image carries them). And small
 * rooms: no function of more than MAX_FUNCTION_LINES lines outside the benches, measured on the
 * syntax tree (TypeScript's parser).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/cli.ts";

const ROOTS = [
  "generator/src",
  "generator/tools",
  "generator/bench",
  "model/server/src",
  "model/server/bench",
];
const SHARED = ["model/card-schema.ts", "model/model-card.ts", "model/serving-contract.ts"];

/** The longest a function may be, first line to last, comments and blank lines included. */
const MAX_FUNCTION_LINES = 150;

function sourceFiles(): string[] {
  const files = ROOTS.flatMap((r) =>
    readdirSync(join(REPO_ROOT, r), { recursive: true, encoding: "utf8" })
      .filter((f) => /\.(ts|mjs)$/.test(f) && !/\.test\.ts$/.test(f))
      .map((f) => `${r}/${f.replace(/\\/g, "/")}`),
  );
  return [...files, ...SHARED].sort();
}

/** Relative imports of a file (static, re-exports, dynamic), as repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(REPO_ROOT, file), "utf8");
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+"(\.[^"]+)"/gms),
    ...text.matchAll(/^\s*import\s+"(\.[^"]+)"/gm),
    ...text.matchAll(/\bimport\(\s*"(\.[^"]+)"\s*\)/g),
  ].map((m) => m[1] as string);
  return specs
    .map((s) => relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), s)).replace(/\\/g, "/"))
    .filter((p) => existsSync(join(REPO_ROOT, p)));
}

/** Strongly connected components of more than one module, or a module importing itself. */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe("the import structure", () => {
  const files = sourceFiles();
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it("reads the modules and their imports", () => {
    expect(files.length).toBeGreaterThan(80);
    expect([...graph.values()].flat().length).toBeGreaterThan(200);
    expect(graph.get("generator/src/render/deployment.ts")).toContain("model/serving-contract.ts");
  });

  it("has no import circle", () => {
    expect(circles(graph)).toEqual([]);
  });

  it("has no arrow from the generator into the server's sources", () => {
    const arrows = [...graph].flatMap(([from, to]) =>
      from.startsWith("generator/")
        ? to.filter((t) => t.startsWith("model/server/")).map((t) => `${from} -> ${t}`)
        : [],
    );
    expect(arrows).toEqual([]);
  });

  it("the server's image carries every shared module the server imports", () => {
    const dockerfile = readFileSync(join(REPO_ROOT, "model/server/Dockerfile"), "utf8");
    const ignore = readFileSync(join(REPO_ROOT, "model/server/Dockerfile.dockerignore"), "utf8");
    const glob = (pattern: string) =>
      new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*")}$`);
    const copied = [...dockerfile.matchAll(/^COPY (model\/[^/\s]+\.ts) model\/?/gm)].map((m) =>
      glob(m[1] as string),
    );
    const kept = [...ignore.matchAll(/^!(model\/[^/\s]+\.ts)$/gm)].map((m) => glob(m[1] as string));
    const used = new Set(
      [...graph]
        .filter(([from]) => from.startsWith("model/server/src/"))
        .flatMap(([, to]) => to.filter((t) => SHARED.includes(t))),
    );
    expect(used.size).toBeGreaterThanOrEqual(3);
    const missing = [...used].filter((f) => !copied.some((g) => g.test(f)) || !kept.some((g) => g.test(f)));
    expect(missing).toEqual([]);
  });

  it("the shared contracts import neither side", () => {
    const arrows = SHARED.flatMap((f) => (graph.get(f) ?? []).map((t) => `${f} -> ${t}`));
    expect(arrows).toEqual([]);
  });
});

/** Every function (declarations, methods, arrows, expressions) longer than `max` lines, with where it starts. */
function longFunctions(file: string, max: number): string[] {
  const source = ts.createSourceFile(
    file,
    readFileSync(join(REPO_ROOT, file), "utf8"),
    ts.ScriptTarget.Latest,
    true,
  );
  const line = (pos: number) => source.getLineAndCharacterOfPosition(pos).line + 1;
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const first = line(node.getStart(source));
      const lines = line(node.getEnd()) - first + 1;
      const name = "name" in node && node.name ? node.name.getText(source) : "(anonymous)";
      if (lines > max) found.push(`${file}:${first} ${name}: ${lines} lines`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("small rooms", () => {
  const files = sourceFiles().filter((f) => f.endsWith(".ts") && !f.includes("/bench/"));

  it(`no function outside the benches is longer than ${MAX_FUNCTION_LINES} lines`, () => {
    expect(files.length).toBeGreaterThan(60);
    expect(files.flatMap((f) => longFunctions(f, MAX_FUNCTION_LINES))).toEqual([]);
  });

  it("the measure sees a long function", () => {
    // renderDeployment is one of the longest: a limit under its length must catch it
    expect(longFunctions("generator/src/render/deployment.ts", 50).join("\n")).toMatch(/renderDeployment/);
  });
});
