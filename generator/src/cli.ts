#!/usr/bin/env -S npx tsx
/**
 * wms generator CLI. One small module per command under commands/; this file only parses
 * arguments, dispatches, and owns the single top-level catch that prints `Error: …` and sets
 * the exit code (errors.ts maps error kinds to codes).
 */
import { resolve } from "node:path";
import { minimist } from "zx";
import { exitCodeOf, formatProblem, WmsError } from "./errors.ts";

interface Command {
  summary: string;
  usage: string;
  run(args: minimist.ParsedArgs, root: string): Promise<void> | void;
}

const COMMANDS: Record<string, Command> = {
  render: {
    summary: "render every environment's version files into environments/<env>/rendered/",
    usage: `render [--check] [--env <name>]...

  Renders, for every environment and every version its version files name, the whole stack
  into environments/<env>/rendered/<model>-<version>/ plus one <model>-routing/ folder, then
  prints a summary table. Offline and deterministic: reads only the git tree.

  --check        compare instead of writing; exit 3 and print a diff when committed output is stale
  --env <name>   only this environment (repeatable)`,
    run: async (a, root) => {
      const { runRender } = await import("./commands/render.ts");
      runRender({ root, check: Boolean(a.check), envs: list(a.env) });
    },
  },
  versions: {
    summary: "table of the release catalog: version, metrics, where it runs",
    usage: `versions [--model <name>]

  Lists every published version in model/releases/ with its test metrics, size, digest and the
  environments (and roles) that run it.`,
    run: async (a, root) => {
      const { runVersions } = await import("./commands/versions.ts");
      runVersions({ root, model: a.model });
    },
  },
};

function list(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).map(String);
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "usage: npm run gen -- <command> [options]   (npm run render -- [options] for render)",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`),
    "",
    "`npm run gen -- <command> --help` shows a command's options. Global: --root <repo dir>",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const args = minimist(argv, {
    boolean: ["check", "help", "commit", "dry-run", "keep-local", "live"],
    alias: { h: "help" },
  });
  const [name] = args._;
  if (!name) {
    process.stdout.write(`${help()}\n`);
    return args.help ? 0 : 2;
  }
  const command = COMMANDS[String(name)];
  if (!command) {
    process.stderr.write(`Error: unknown command "${name}"\n\n${help()}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`usage: ${command.usage}\n`);
    return 0;
  }
  const root = resolve(String(args.root ?? process.env.WMS_ROOT ?? process.cwd()));
  try {
    await command.run(args, root);
    return 0;
  } catch (e) {
    if (e instanceof WmsError) {
      process.stderr.write(
        `Error: ${e.problems.length > 1 || e.message !== formatProblem(e.problems[0] ?? { message: "" }) ? `${e.message.split("\n")[0]}\n` : ""}`,
      );
      for (const p of e.problems) process.stderr.write(`  ${formatProblem(p)}\n`);
      return exitCodeOf(e.kind);
    }
    process.stderr.write(`Error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
