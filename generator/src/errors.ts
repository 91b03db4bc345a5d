/**
 * Typed errors for the generator. Every user-facing failure is a `WmsError` carrying one or
 * more problems; the CLI's single top-level catch (cli.ts) prints them and sets the exit code.
 */

/** One thing wrong with the input: where it is, what is wrong, how to fix it. */
export interface Problem {
  /** Repository-relative (or absolute) file the problem is in, when there is one. */
  file?: string;
  /** 1-based line in `file`, when known. */
  line?: number;
  /** JSON-pointer-like field path, e.g. `canary.weight`. */
  field?: string;
  message: string;
  hint?: string;
}

export type ErrorKind =
  | "input" // bad user input: YAML, schema, unknown version, gate failure
  | "stale" // render --check found committed output out of date
  | "store" // model store problem: missing object, digest mismatch, refused overwrite
  | "unavailable" // a service the command reads did not answer (Prometheus)
  | "internal";

export class WmsError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly problems: Problem[],
    message?: string,
  ) {
    super(message ?? problems.map(formatProblem).join("\n"));
    this.name = "WmsError";
  }
}

export const inputError = (problems: Problem[], message?: string) => new WmsError("input", problems, message);
export const storeError = (problems: Problem[], message?: string) => new WmsError("store", problems, message);

/** `file:line [field] message (hint: …)`: the one format every problem is printed in. */
export function formatProblem(p: Problem): string {
  const where = p.file ? `${p.file}${p.line ? `:${p.line}` : ""}` : "";
  const field = p.field ? `[${p.field}]` : "";
  const head = [where, field].filter(Boolean).join(" ");
  return `${head ? `${head} ` : ""}${p.message}${p.hint ? `\n    fix: ${p.hint}` : ""}`;
}

/**
 * Exit codes, one per kind, so scripts can tell a stale render from bad input. 1 is left to
 * `analyze`'s fail verdict alone; an internal error (or a git command that failed) is 70
 * (EX_SOFTWARE in sysexits.h). docs/usage.md, "Exit codes", is the table.
 */
export const INTERNAL_EXIT_CODE = 70;
export const exitCodeOf = (kind: ErrorKind): number =>
  ({ input: 2, stale: 3, store: 4, unavailable: 5, internal: INTERNAL_EXIT_CODE })[kind];

/**
 * The one place any thrown value becomes what the user sees: `Error: …` lines (no stack
 * trace unless WMS_DEBUG=1) and the exit code. A failed git (zx ProcessOutput) shows its
 * command's first stderr line.
 */
export function describeError(e: unknown): { text: string; code: number } {
  if (e instanceof WmsError) {
    const [only] = e.problems;
    const headline = e.problems.length > 1 || !only || e.message !== formatProblem(only);
    const lines = [
      ...(headline ? [`Error: ${e.message.split("\n")[0]}`] : []),
      ...e.problems.map((p, i) =>
        !headline && i === 0 ? `Error: ${formatProblem(p)}` : `  ${formatProblem(p)}`,
      ),
    ];
    return { text: `${lines.join("\n")}\n`, code: exitCodeOf(e.kind) };
  }
  const debug = process.env.WMS_DEBUG === "1" && e instanceof Error ? `\n${e.stack}` : "";
  const out = e as { stderr?: unknown; exitCode?: unknown; message?: unknown };
  if (typeof out?.stderr === "string" && typeof out.exitCode === "number") {
    const first = out.stderr.split("\n").find((l) => l.trim()) ?? `exit code ${out.exitCode}`;
    return { text: `Error: git failed: ${first.trim()}${debug}\n`, code: INTERNAL_EXIT_CODE };
  }
  const message = String(out?.message ?? e).split("\n")[0];
  return {
    text: `Error: internal error: ${message} (WMS_DEBUG=1 shows the stack)${debug}\n`,
    code: INTERNAL_EXIT_CODE,
  };
}
