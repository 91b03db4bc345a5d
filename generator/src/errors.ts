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

/** Exit codes, one per kind, so scripts can tell a stale render from bad input. */
export const exitCodeOf = (kind: ErrorKind): number => ({ input: 2, stale: 3, store: 4, internal: 1 })[kind];
