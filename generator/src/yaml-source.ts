/**
 * Reading hand-written YAML (environment.yaml, version files) so that every later problem can
 * name the line it comes from. Parsing is strict: duplicate keys and syntax errors are
 * reported with file and line, never silently resolved; text over the input size limit and
 * aliases that expand too far ("billion laughs") are refused the same way.
 */
import { type Document, isMap, isSeq, LineCounter, type Node, parseDocument, visit } from "yaml";
import { inputError, type Problem } from "./errors.ts";
import { checkInputSize } from "./repo-file.ts";

export interface YamlSource {
  file: string;
  data: unknown;
  /** 1-based line of the node at `path` (or of its closest existing parent). */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

export function parseYamlSource(text: string, file: string): YamlSource {
  checkInputSize(Buffer.byteLength(text), file);
  const marker = conflictMarkerLine(text);
  if (marker) {
    throw inputError(
      [
        {
          file,
          line: marker,
          message: "unresolved merge conflict (a git revert, merge or cherry-pick did not apply cleanly)",
          hint: "edit the file to the state you want (or git checkout the version you meant), then run `npm run render`; `npm run gen -- rollback --env <env>` rolls back without conflicts",
        },
      ],
      `cannot parse ${file}`,
    );
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const problems: Problem[] = doc.errors.map((e) => ({
    file,
    line: e.linePos?.[0]?.line,
    message: `YAML syntax error: ${e.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "")}`,
    hint: e.code === "DUPLICATE_KEY" ? "remove the repeated key" : "fix the YAML syntax at that line",
  }));
  if (problems.length) throw inputError(problems, `cannot parse ${file}`);

  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    let node: unknown = doc.contents;
    let best: number | undefined = lineAt(node);
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
        if (!pair) break;
        best = lineAt(pair.key) ?? best;
        node = pair.value;
      } else if (isSeq(node) && typeof key === "number") {
        node = node.items[key];
        best = lineAt(node) ?? best;
      } else break;
    }
    return best;
  };
  const lineAt = (node: unknown): number | undefined => {
    const range = (node as Node | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  return { file, data: yamlData(doc, file, (offset) => lineCounter.linePos(offset).line), lineOf };
}

/**
 * `doc.toJS()`, where the yaml library's refusals (an alias that expands too far, the "billion
 * laughs" attack, or names no anchor: ReferenceError) become an input error naming the file
 * and the line of the first alias. Every conversion of a parsed document goes through here.
 */
export function yamlData(doc: Document, file: string, lineAt?: (offset: number) => number): unknown {
  try {
    return doc.toJS();
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    let line: number | undefined;
    visit(doc, {
      Alias: (_key, node) => {
        if (node.range && lineAt) line = lineAt(node.range[0]);
        return visit.BREAK;
      },
    });
    throw inputError(
      [
        {
          file,
          line,
          message: `YAML aliases: ${e.message}`,
          hint: "write the values out instead of expanding anchors (*name) that often",
        },
      ],
      `cannot parse ${file}`,
    );
  }
}

/** The 1-based line of `offset` in `text`, for documents parsed without a LineCounter. */
export const lineAtOffset =
  (text: string) =>
  (offset: number): number =>
    text.slice(0, offset).split("\n").length;

/** Turn an ajv instancePath ("/canary/weight") into path segments (["canary","weight"]). */
export function pointerToPath(pointer: string): (string | number)[] {
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export const pathToField = (path: readonly (string | number)[]): string =>
  path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), "");

/** 1-based line of the first git conflict marker (<<<<<<< / ======= / >>>>>>>), if any. */
export function conflictMarkerLine(text: string): number | undefined {
  const i = text.split("\n").findIndex((l) => /^(<{7}|={7}|>{7})( |$)/.test(l));
  return i < 0 ? undefined : i + 1;
}
