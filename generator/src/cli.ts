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
  status: {
    summary: "what runs where: versions per environment, last deploy, render state (--live: Argo CD's view)",
    usage: `status [--env <name>]... [--live]

  From git alone: each environment's live, canary and retained versions, the last deploy
  commit, and whether rendered/ matches the version files.
  --live   also ask the cluster (current kube context) for each Argo CD Application's sync and
           health; ARGOCD_NAMESPACE overrides the namespace (default argocd)`,
    run: async (a, root) => {
      const { runStatus } = await import("./commands/status.ts");
      await runStatus({ root, envs: list(a.env), live: Boolean(a.live) });
    },
  },
  deploy: {
    summary: "set a version live (or as canary) in one environment, render, optionally commit",
    usage: `deploy --env <name> --version <x.y.z> [--canary <weight>] [--model wms] [--no-retain] [--commit]

  Edits environments/<env>/<model>.yaml (comments kept), renders that environment and, with
  --commit, commits the version file and its rendered/ folder as one deploy commit.
  --canary <1-99>  deploy as canary with that share of traffic instead of live
  --no-retain      do not keep the previous live version deployed (default: keep it, without traffic)`,
    run: async (a, root) => {
      const { runDeploy } = await import("./commands/deploy.ts");
      await runDeploy({
        root,
        env: required(a, "env"),
        model: String(a.model ?? "wms"),
        version: required(a, "version"),
        canary: a.canary === undefined ? undefined : Number(a.canary),
        retainPrevious: a.retain !== false,
        commit: Boolean(a.commit),
      });
    },
  },
  promote: {
    summary: "deploy the version live in one environment to the next (e.g. staging → prod)",
    usage: `promote --from <env> --to <env> [--canary <weight>] [--model wms] [--commit]

  Takes --from's live version and deploys it to --to (see deploy); --to's quality gates apply.`,
    run: async (a, root) => {
      const { runPromote } = await import("./commands/deploy.ts");
      await runPromote({
        root,
        from: required(a, "from"),
        env: required(a, "to"),
        model: String(a.model ?? "wms"),
        canary: a.canary === undefined ? undefined : Number(a.canary),
        retainPrevious: a.retain !== false,
        commit: Boolean(a.commit),
      });
    },
  },
  rollback: {
    summary: "git revert the last deploy commit of one environment",
    usage: `rollback --env <name> [--model wms] [--commit]

  Reverts the newest commit that changed environments/<env>/<model>.yaml (refusing when it also
  changed other environments), then checks the rendered output. Without --commit the revert is
  staged for review.`,
    run: async (a, root) => {
      const { runRollback } = await import("./commands/rollback.ts");
      await runRollback({
        root,
        env: required(a, "env"),
        model: String(a.model ?? "wms"),
        commit: Boolean(a.commit),
      });
    },
  },
  publish: {
    summary:
      "upload a trained model to the store (sha256-checked, never overwritten) and add its card to the catalog",
    usage: `publish --model <model.onnx> --card <model-card.json> [--store <uri>] [--keep-local]

  Uploads the model to <store>/<name>/<version>/model.onnx with its SHA-256 checksum and writes
  model/releases/<name>/<version>/model-card.json with the artifact's uri, sha256 and size.
  Refuses to overwrite a version with different bytes; publishing identical bytes again is a no-op.
  --store        s3://bucket[/prefix] or file:///dir (default: $WMS_MODEL_STORE)
  --keep-local   also keep model.onnx beside the card (versions the repo ships for local use)
  S3 credentials and endpoint come from the standard AWS environment (AWS_ENDPOINT_URL_S3 for local servers).`,
    run: async (a, root) => {
      const { runPublish } = await import("./commands/publish.ts");
      await runPublish({
        root,
        model: required(a, "model"),
        card: required(a, "card"),
        store: a.store === undefined ? undefined : String(a.store),
        keepLocal: Boolean(a["keep-local"]),
      });
    },
  },
  verify: {
    summary: "check every version an environment names exists in the store with its card's sha256",
    usage: `verify [--env <name>]... [--deep]

  For every version named by the environments' version files, checks the store object at the
  card's artifact.uri: present, same size, same sha256 (S3 checksum or metadata; --deep always
  downloads and hashes). Exit 4 listing every problem.`,
    run: async (a, root) => {
      const { runVerify } = await import("./commands/publish.ts");
      await runVerify({ root, envs: list(a.env), deep: Boolean(a.deep) });
    },
  },
};

function required(a: minimist.ParsedArgs, name: string): string {
  const v = a[name];
  if (v === undefined || v === true || v === "") {
    throw new WmsError("input", [
      { field: `--${name}`, message: "is required", hint: `pass --${name} <value> (see --help)` },
    ]);
  }
  return String(v);
}

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
    boolean: ["check", "help", "commit", "keep-local", "live", "retain", "deep"],
    default: { retain: true },
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
