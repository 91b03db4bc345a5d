/**
 * Strict command-line parsing from one table per command. The same option declarations drive
 * parsing, `--help` and every error: an unknown option or command is refused with a
 * "did you mean" suggestion (edit distance), a missing or malformed value names the option.
 * Pure: argv in, values or a WmsError out.
 */
import { inputError } from "./errors.ts";

export type OptionType = "string" | "list" | "boolean" | "integer";

export interface OptionSpec {
  name: string;
  type: OptionType;
  /** placeholder in usage lines, e.g. "<name>" */
  arg?: string;
  help: string;
  required?: boolean;
  /** integers only: inclusive range */
  min?: number;
  max?: number;
  /** strings and lists: what each value must match, what it is and an example (for the error) */
  pattern?: { re: RegExp; what: string; example?: string };
  /** strings: the only values it takes (an error suggests the nearest) */
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** free text shown by --help between the usage line and the options */
  description: string;
  options: OptionSpec[];
}

export type Values = Record<string, string | string[] | boolean | number | undefined>;

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  {
    name: "root",
    type: "string",
    arg: "<dir>",
    help: "the repository to work on (default: $WMS_ROOT or the current directory)",
  },
  { name: "help", type: "boolean", help: "show this help" },
];

export function parseCommandLine(
  argv: string[],
  commands: CommandSpec[],
): { command?: CommandSpec; values: Values } {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h")
    return { values: { help: first !== undefined } };
  if (first.startsWith("-")) {
    throw inputError([
      {
        field: first,
        message: "options come after the command",
        hint: `e.g. npm run gen -- deploy ${first} …`,
      },
    ]);
  }
  const command = commands.find((c) => c.name === first);
  if (!command) {
    const guess = closest(
      first,
      commands.map((c) => c.name),
    );
    throw inputError([
      {
        message: `unknown command "${first}"${guess ? `; did you mean "${guess}"?` : ""}`,
        hint: `one of: ${commands.map((c) => c.name).join(", ")} (npm run gen -- --help)`,
      },
    ]);
  }
  return { command, values: parseOptions(command, rest) };
}

function parseOptions(command: CommandSpec, argv: string[]): Values {
  const specs = [...command.options, ...GLOBAL_OPTIONS];
  const values: Values = {};
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === "-h") {
      values.help = true;
      continue;
    }
    if (!token.startsWith("--") || token === "--") {
      throw inputError([
        {
          field: token,
          message: `unexpected argument for ${command.name}`,
          hint: `${command.name} takes only options: ${optionList(command)}`,
        },
      ]);
    }
    const eq = token.indexOf("=");
    const name = token.slice(2, eq < 0 ? undefined : eq);
    const spec = specs.find((s) => s.name === name);
    if (!spec) {
      const guess = closest(
        name,
        specs.map((s) => s.name),
      );
      throw inputError([
        {
          field: `--${name}`,
          message: `unknown option for ${command.name}${guess ? `; did you mean --${guess}?` : ""}`,
          hint: `${command.name} takes ${optionList(command)} (npm run gen -- ${command.name} --help)`,
        },
      ]);
    }
    if (spec.type === "boolean") {
      if (eq >= 0) {
        throw inputError([{ field: `--${name}`, message: "takes no value", hint: `write --${name} alone` }]);
      }
      values[name] = true;
      continue;
    }
    let raw: string | undefined;
    if (eq >= 0) raw = token.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        raw = next;
        i++;
      }
    }
    if (raw === undefined || raw === "") {
      throw inputError([
        { field: `--${name}`, message: "needs a value", hint: `write --${name} ${spec.arg ?? "<value>"}` },
      ]);
    }
    if (spec.pattern && !spec.pattern.re.test(raw)) {
      // checked before the value reaches a path: `--model ../x` must never name a file
      throw inputError([
        {
          field: `--${name}`,
          message: `${JSON.stringify(raw)} is not ${spec.pattern.what}`,
          hint: `write --${name} ${spec.arg ?? "<value>"}${spec.pattern.example ? `, e.g. --${name} ${spec.pattern.example}` : ""}`,
        },
      ]);
    }
    if (spec.choices && !spec.choices.includes(raw)) {
      const guess = closest(raw, [...spec.choices]);
      throw inputError([
        {
          field: `--${name}`,
          message: `"${raw}" is not one of ${spec.choices.join(", ")}${guess ? `; did you mean ${guess}?` : ""}`,
          hint: `write --${name} ${guess ?? spec.choices[0]}`,
        },
      ]);
    }
    if (spec.type === "list") {
      values[name] = [...((values[name] as string[] | undefined) ?? []), raw];
    } else if (values[name] !== undefined) {
      throw inputError([{ field: `--${name}`, message: "given twice", hint: `pass --${name} once` }]);
    } else if (spec.type === "integer") {
      const n = Number(raw);
      const lo = spec.min ?? Number.MIN_SAFE_INTEGER;
      const hi = spec.max ?? Number.MAX_SAFE_INTEGER;
      if (!/^-?\d+$/.test(raw) || n < lo || n > hi) {
        throw inputError([
          {
            field: `--${name}`,
            message: `"${raw}" is not an integer${spec.min !== undefined ? ` from ${lo} to ${hi}` : ""}`,
            hint: `write --${name} ${spec.arg ?? "<n>"}`,
          },
        ]);
      }
      values[name] = n;
    } else values[name] = raw;
  }
  if (!values.help) {
    for (const spec of command.options) {
      if (spec.required && values[spec.name] === undefined) {
        throw inputError([
          {
            field: `--${spec.name}`,
            message: "is required",
            hint: `pass --${spec.name} ${spec.arg ?? "<value>"} (npm run gen -- ${command.name} --help)`,
          },
        ]);
      }
    }
  }
  return values;
}

const optionList = (c: CommandSpec) => [...c.options, ...GLOBAL_OPTIONS].map((s) => `--${s.name}`).join(", ");

/** `deploy --env <name> --version <x.y.z> [--canary <1-99>] …` */
export function usageLine(c: CommandSpec): string {
  const parts = c.options.map((s) => {
    const one = `--${s.name}${s.type === "boolean" ? "" : ` ${s.arg ?? "<value>"}`}`;
    const rep = s.type === "list" ? "..." : "";
    return s.required ? `${one}${rep}` : `[${one}]${rep}`;
  });
  return [c.name, ...parts].join(" ");
}

export function commandHelp(c: CommandSpec): string {
  const rows = [...c.options, ...GLOBAL_OPTIONS].map((s) => [
    `--${s.name}${s.type === "boolean" ? "" : ` ${s.arg ?? "<value>"}`}`,
    `${s.help}${s.type === "list" ? " (repeatable)" : ""}${s.required ? " (required)" : ""}`,
  ]);
  const width = Math.max(...rows.map(([a]) => (a as string).length));
  return [
    `usage: ${usageLine(c)}`,
    "",
    ...c.description.split("\n").map((l) => (l ? `  ${l}` : "")),
    "",
    "options:",
    ...rows.map(([a, b]) => `  ${(a as string).padEnd(width)}  ${b}`),
  ].join("\n");
}

/** Edit distance (insert, delete, substitute, transpose; each costs 1). */
export function editDistance(a: string, b: string): number {
  // optimal string alignment: insert, delete, substitute, swap two neighbours (--prot → --port)
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The candidate nearest to `word`, when it is near enough to be a typo (or a prefix of it). */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (!best || d < best.d) best = { c, d };
  }
  if (!best) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(word.length, best.c.length) / 3));
  if (best.d <= limit) return best.c;
  const prefix = candidates.filter((c) => word.length >= 3 && c.startsWith(word));
  return prefix.length === 1 ? prefix[0] : undefined;
}
