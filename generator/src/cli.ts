#!/usr/bin/env -S npx tsx
/**
 * wms generator CLI. One small module per command under commands/; this file holds the one
 * table of commands and their options (args.ts parses strictly from it and writes --help from
 * it) and the single top-level catch (errors.ts turns any failure into `Error: …` and an exit
 * code).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type CommandSpec,
  closest,
  commandHelp,
  GLOBAL_OPTIONS,
  type OptionSpec,
  parseCommandLine,
  type Values,
} from "./args.ts";
import { describeError, inputError } from "./errors.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "./report.ts";
import { schemaPattern } from "./schema.ts";

interface Command extends CommandSpec {
  /** a number is the exit code (analyze: 0 pass, 1 fail, 3 inconclusive); otherwise 0 */
  run(v: Values, root: string): unknown;
}

/** What an environment and a model may be called: the schemas' patterns, checked on the command line. */
const ENV_NAME = {
  re: schemaPattern("environment.schema.json", ["properties", "name"]),
  what: "an environment name",
  example: "dev",
};
const MODEL_NAME = {
  re: schemaPattern("version-file.schema.json", ["properties", "model"]),
  what: "a model name",
  example: "wms",
};
const VERSION = {
  re: schemaPattern("version-file.schema.json", ["$defs", "version"]),
  what: "a version x.y.z (three numbers, an optional -prerelease)",
  example: "1.1.0",
};

const opt = {
  env: (help: string, required = true): OptionSpec => ({
    name: "env",
    type: "string",
    arg: "<name>",
    help,
    required,
    pattern: ENV_NAME,
  }),
  envs: {
    name: "env",
    type: "list",
    arg: "<name>",
    help: "only this environment",
    pattern: ENV_NAME,
  } as OptionSpec,
  model: {
    name: "model",
    type: "string",
    arg: "<name>",
    help: "the model (default: wms)",
    pattern: MODEL_NAME,
  } as OptionSpec,
  canary: {
    name: "canary",
    type: "integer",
    arg: "<1-99>",
    min: 1,
    max: 99,
    help: "deploy as canary with that percent of traffic instead of live",
  } as OptionSpec,
  noRetain: {
    name: "no-retain",
    type: "boolean",
    help: "do not keep the previous live version deployed (default: keep it, without traffic, for instant rollback)",
  } as OptionSpec,
  commit: (what: string): OptionSpec => ({
    name: "commit",
    type: "boolean",
    help: `commit ${what} (trailer Wms-…; see docs/architecture.md)`,
  }),
  wait: {
    name: "wait",
    type: "boolean",
    help: "when a version must come up first: commit and push the staging commit, wait until its Argo CD Application is Synced to it and Healthy (current kube context), then commit and push the switch",
  } as OptionSpec,
  timeout: {
    name: "timeout",
    type: "integer",
    arg: "<seconds>",
    min: 1,
    help: "how long --wait waits (default 900)",
  } as OptionSpec,
  output: {
    name: "output",
    type: "string",
    arg: "<table|json|yaml>",
    choices: OUTPUT_FORMATS,
    help: 'table (default), or one JSON/YAML document for scripts (docs/usage.md, "Scripting")',
  } as OptionSpec,
  allowEmpty: {
    name: "allow-empty",
    type: "list",
    arg: "<env>",
    help: "let this environment end up with nothing deployed or nothing live (never needed for a normal deploy)",
    pattern: ENV_NAME,
  } as OptionSpec,
};

const str = (v: Values, k: string) => (v[k] === undefined ? undefined : String(v[k]));
const list = (v: Values, k: string) => v[k] as string[] | undefined;
const num = (v: Values, k: string) => v[k] as number | undefined;
const model = (v: Values) => str(v, "model") ?? "wms";
const output = (v: Values) => str(v, "output") as OutputFormat | undefined;

const COMMANDS: Command[] = [
  {
    name: "render",
    summary: "render every environment's version files into environments/<env>/rendered/",
    description: `Renders, for every environment and every version its version files name, the whole stack
into environments/<env>/rendered/<model>-<version>/ plus one <model>-routing/ folder (when a version
is live), then prints a summary table. Offline and deterministic: reads only the git tree.
Refuses to leave an environment with nothing deployed, or nothing live, where rendered/ had
versions (a removed or emptied version file), unless --allow-empty <env>.
--check exits 3 with a diff when committed output is stale (and names conflict markers a git
revert left in rendered/).`,
    options: [
      { name: "check", type: "boolean", help: "compare instead of writing" },
      opt.envs,
      opt.allowEmpty,
    ],
    run: async (v, root) => {
      const { runRender } = await import("./commands/render.ts");
      runRender({ root, check: Boolean(v.check), envs: list(v, "env"), allowEmpty: list(v, "allow-empty") });
    },
  },
  {
    name: "check",
    summary: "the delivery rules on a change (a pull request) against a base revision",
    description: `For every version file, compares <ref> with the working tree: a version may take traffic
(live, canary) only if <ref> already deployed it (live, canary or retained), and no version
file may be removed or emptied without --allow-empty <env>. Exit 2 naming each unsafe change.`,
    options: [
      {
        name: "base",
        type: "string",
        arg: "<ref>",
        required: true,
        help: "the revision the change starts from, e.g. origin/main",
      },
      opt.allowEmpty,
      opt.output,
    ],
    run: async (v, root) => {
      const { runCheck } = await import("./commands/check.ts");
      await runCheck({ root, base: String(v.base), allowEmpty: list(v, "allow-empty"), output: output(v) });
    },
  },
  {
    name: "versions",
    summary: "table of the release catalog: version, metrics, where it runs",
    description: `Lists every published version in model/releases/ with its test metrics, size, digest and the
environments (and roles) that run it.`,
    options: [{ ...opt.model, help: "only this model" }, opt.output],
    run: async (v, root) => {
      const { runVersions } = await import("./commands/versions.ts");
      runVersions({ root, model: str(v, "model"), output: output(v) });
    },
  },
  {
    name: "analyze",
    summary: "judge the canary (or shadow) against live from Prometheus: exit 0 pass, 1 fail, 3 inconclusive",
    description: `Reads Prometheus for one environment's candidate (its canary, else its shadow) against live
over --window: sample count, 5xx ratio, p95 latency ratio, median and p10 mask agreement
(shadow: measured by live's server on the same photos), coverage drift. Thresholds come from
environment.yaml's analysis: block (schema defaults otherwise). Prints a table and exits 0
(pass), 1 (fail) or 3 (inconclusive: too few samples). With --commit the verdict lands as a
deploy commit carrying the table: pass moves the candidate one step (shadow -> first canary
weight of analysis.steps -> ... -> live, the previous live retained), fail removes it.`,
    options: [
      opt.env("the environment"),
      opt.model,
      {
        name: "prometheus",
        type: "string",
        arg: "<url>",
        help: "Prometheus to read (default: $WMS_PROMETHEUS_URL, else http://kube-prometheus-stack-prometheus.monitoring.svc:9090, the in-cluster Service)",
      },
      {
        name: "window",
        type: "string",
        arg: "<range>",
        help: "how far back to look, a Prometheus range such as 30m or 2h (default 30m)",
        pattern: { re: /^[1-9][0-9]*(s|m|h|d)$/, what: "a range such as 30m" },
      },
      opt.commit("the verdict"),
      opt.output,
    ],
    run: async (v, root) => {
      const { runAnalyze, IN_CLUSTER_PROMETHEUS } = await import("./commands/analyze.ts");
      return runAnalyze({
        root,
        env: String(v.env),
        model: model(v),
        prometheus: str(v, "prometheus") ?? process.env.WMS_PROMETHEUS_URL ?? IN_CLUSTER_PROMETHEUS,
        window: str(v, "window") ?? "30m",
        commit: Boolean(v.commit),
        output: output(v),
      });
    },
  },
  {
    name: "status",
    summary: "what runs where: versions per environment, last deploy, render state (--live: Argo CD's view)",
    description: `From git alone: each environment's live, canary and retained versions, the last deploy
commit, and whether rendered/ matches the version files.`,
    options: [
      opt.envs,
      {
        name: "live",
        type: "boolean",
        help: "also ask the cluster (current kube context) for each Argo CD Application's sync and health; ARGOCD_NAMESPACE overrides the namespace (default argocd)",
      },
      opt.output,
    ],
    run: async (v, root) => {
      const { runStatus } = await import("./commands/status.ts");
      await runStatus({ root, envs: list(v, "env"), live: Boolean(v.live), output: output(v) });
    },
  },
  {
    name: "deploy",
    summary: "set a version live (or as canary) in one environment, render, optionally commit",
    description: `Edits environments/<env>/<model>.yaml (comments kept; created when missing), renders that
environment and, with --commit, commits both as one deploy commit (trailer Wms-Deploy: <env>).
Traffic moves only to a version the last commit already deploys: a version that is not up yet
is first staged (retained, no traffic) in its own commit; run the same command again once its
Application is Healthy to switch, or pass --wait to do both.`,
    options: [
      opt.env("the environment"),
      {
        name: "version",
        type: "string",
        arg: "<x.y.z>",
        required: true,
        help: "the version to deploy",
        pattern: VERSION,
      },
      opt.canary,
      opt.model,
      opt.noRetain,
      opt.commit("the version file and its rendered/ folder"),
      opt.wait,
      opt.timeout,
    ],
    run: async (v, root) => {
      const { runDeploy } = await import("./commands/deploy.ts");
      await runDeploy({
        root,
        env: String(v.env),
        model: model(v),
        version: String(v.version),
        canary: num(v, "canary"),
        retainPrevious: !v["no-retain"],
        commit: Boolean(v.commit),
        wait: Boolean(v.wait),
        timeoutS: num(v, "timeout"),
      });
    },
  },
  {
    name: "promote",
    summary: "deploy the version live in one environment to the next (e.g. staging → prod)",
    description: `Takes --from's live version and deploys it to --to (see deploy: staged first when --to does
not run it yet; --to's quality gates apply; --to's version file is created when missing).`,
    options: [
      {
        name: "from",
        type: "string",
        arg: "<env>",
        required: true,
        help: "the environment whose live version moves",
        pattern: ENV_NAME,
      },
      {
        name: "to",
        type: "string",
        arg: "<env>",
        required: true,
        help: "the environment it moves to",
        pattern: ENV_NAME,
      },
      opt.canary,
      opt.model,
      opt.noRetain,
      opt.commit("the version file and its rendered/ folder"),
      opt.wait,
      opt.timeout,
    ],
    run: async (v, root) => {
      const { runPromote } = await import("./commands/deploy.ts");
      await runPromote({
        root,
        from: String(v.from),
        env: String(v.to),
        model: model(v),
        canary: num(v, "canary"),
        retainPrevious: !v["no-retain"],
        commit: Boolean(v.commit),
        wait: Boolean(v.wait),
        timeoutS: num(v, "timeout"),
      });
    },
  },
  {
    name: "rollback",
    summary: "restore one environment's version file to before its last deploy, render, commit",
    description: `Finds the last deploy of <env> (the newest commit that changed its version file and was not
itself a rollback or rolled back: a second rollback goes one deploy further back), restores the
version file's content from before it, renders and, with --commit, commits (trailer
Wms-Rollback: <env> <sha>). Commits in between that did not change the version file (image
bumps, catalog additions) are neither undone nor in the way. Needs a clean version file and
rendered/; any failure leaves both as they were.`,
    options: [
      opt.env("the environment"),
      opt.model,
      opt.commit("the rollback"),
      opt.wait,
      opt.timeout,
      opt.allowEmpty,
    ],
    run: async (v, root) => {
      const { runRollback } = await import("./commands/rollback.ts");
      await runRollback({
        root,
        env: String(v.env),
        model: model(v),
        commit: Boolean(v.commit),
        wait: Boolean(v.wait),
        timeoutS: num(v, "timeout"),
        allowEmpty: list(v, "allow-empty"),
      });
    },
  },
  {
    name: "publish",
    summary:
      "upload a trained model to the store (sha256-checked, never overwritten) and add its card to the catalog",
    description: `Uploads the model to <store>/<name>/<version>/model.onnx with its SHA-256 checksum and writes
model/releases/<name>/<version>/model-card.json with the artifact's uri, sha256 and size. A card that
lists an int8 variant (variants.int8) uploads that file too, as model.int8.onnx.
Refuses to overwrite a version with different bytes; publishing identical bytes again is a no-op;
an int8 variant may be added to a version published without one.
S3 credentials and endpoint come from the standard AWS environment (AWS_ENDPOINT_URL_S3 for local servers).`,
    options: [
      { name: "model", type: "string", arg: "<model.onnx>", required: true, help: "the trained model file" },
      { name: "card", type: "string", arg: "<model-card.json>", required: true, help: "its model card" },
      {
        name: "int8",
        type: "string",
        arg: "<model.int8.onnx>",
        help: "the int8 variant the card lists (default: model.int8.onnx beside --model)",
      },
      {
        name: "store",
        type: "string",
        arg: "<uri>",
        help: "s3://bucket[/prefix] or file:///dir (default: $WMS_MODEL_STORE)",
      },
      {
        name: "keep-local",
        type: "boolean",
        help: "also keep the model files beside the card (versions the repo ships for local use)",
      },
    ],
    run: async (v, root) => {
      const { runPublish } = await import("./commands/publish.ts");
      await runPublish({
        root,
        model: String(v.model),
        card: String(v.card),
        int8: str(v, "int8"),
        store: str(v, "store"),
        keepLocal: Boolean(v["keep-local"]),
      });
    },
  },
  {
    name: "verify",
    summary: "check every version an environment names exists in the store with its card's sha256",
    description: `For every version named by the environments' version files, checks the store object at the
card's artifact.uri, and at variants.int8.uri where the card lists one: present, same size,
same sha256 (S3 checksum or metadata). Exit 4 listing every problem.`,
    options: [opt.envs, { name: "deep", type: "boolean", help: "always download and hash" }, opt.output],
    run: async (v, root) => {
      const { runVerify } = await import("./commands/publish.ts");
      await runVerify({ root, envs: list(v, "env"), deep: Boolean(v.deep), output: output(v) });
    },
  },
  {
    name: "registry-sync",
    summary: "set the MLflow registered model's aliases from the version files (dev, dev-canary, ...)",
    description: `For every environment's version file: alias <env> on the live version, <env>-canary on the
canary, <env>-shadow on the shadow; such aliases no version file names any more are removed,
other aliases are left alone. Model versions are matched to releases by their wms.version tag
(training sets it when it registers). Exit 2 naming every deployed version the registry lacks
(the others are still set), 5 when MLflow cannot be reached.`,
    options: [
      opt.envs,
      {
        name: "tracking-uri",
        type: "string",
        arg: "<url>",
        help: "the MLflow server (default: $MLFLOW_TRACKING_URI)",
      },
      { name: "dry-run", type: "boolean", help: "print the changes, make none" },
    ],
    run: async (v, root) => {
      const trackingUri = str(v, "tracking-uri") ?? process.env.MLFLOW_TRACKING_URI;
      if (!trackingUri) {
        throw inputError([
          {
            field: "--tracking-uri",
            message: "no MLflow server given",
            hint: "pass --tracking-uri http://host:5000 or set MLFLOW_TRACKING_URI",
          },
        ]);
      }
      const { runRegistrySync } = await import("./commands/registry-sync.ts");
      await runRegistrySync({ root, trackingUri, envs: list(v, "env"), dryRun: Boolean(v["dry-run"]) });
    },
  },
];

function help(): string {
  const extra: [string, string][] = [
    ["help", "help <command>: a command's options (same as <command> --help)"],
    ["completion", "completion bash: a bash completion script (docs/usage.md)"],
  ];
  const all: [string, string][] = [...COMMANDS.map((c): [string, string] => [c.name, c.summary]), ...extra];
  const width = Math.max(...all.map(([n]) => n.length));
  return [
    "usage: npm run gen -- <command> [options]   (npm run render -- [options] for render)",
    "",
    "commands:",
    ...all.map(([n, summary]) => `  ${n.padEnd(width)}  ${summary}`),
    "",
    "`npm run gen -- <command> --help` shows a command's options. Global: --root <repo dir>, --version",
    "Exit codes: 0 done / pass, 1 analyze: fail, 2 bad input, 3 stale render / inconclusive, 4 model store,",
    '5 a service did not answer, 70 internal error (docs/usage.md, "Exit codes").',
  ].join("\n");
}

/** The repository's own version (package.json), for `--version`. */
function toolVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    name: string;
    version: string;
  };
  return `${pkg.name} ${pkg.version}`;
}

/** Options that name an existing environment (not --allow-empty: it may name a removed one). */
const NAMES_ENVIRONMENT = new Set(["env", "from", "to"]);

/**
 * An environment name the repository does not have is refused before any command reads it,
 * with the nearest name (`--env prd` → did you mean prod?).
 */
async function checkEnvironments(command: CommandSpec, values: Values, root: string): Promise<void> {
  const names = command.options.filter((o) => NAMES_ENVIRONMENT.has(o.name) && o.pattern === ENV_NAME);
  if (!names.length) return;
  const { listEnvironments } = await import("./config.ts");
  const known = listEnvironments(root);
  for (const o of names) {
    const given = values[o.name];
    for (const name of given === undefined ? [] : Array.isArray(given) ? given : [String(given)]) {
      // a folder that is there (a link, one without environment.yaml) is the command's to judge
      if (known.includes(name) || existsSync(join(root, "environments", name))) continue;
      const guess = closest(name, known);
      throw inputError([
        {
          field: `--${o.name}`,
          message: `no environment "${name}"${guess ? `; did you mean ${guess}?` : ""}`,
          hint: `one of: ${known.join(", ") || "(none)"}; a new environment needs environments/${name}/environment.yaml (copy environments/dev/environment.yaml)`,
        },
      ]);
    }
  }
}

/** `source <(npm run --silent gen -- completion bash)`: commands, options, environment names. */
function bashCompletion(root: string, envs: string[]): string {
  const words = (c: CommandSpec) => [...c.options, ...GLOBAL_OPTIONS].map((o) => `--${o.name}`).join(" ");
  const cases = COMMANDS.map((c) => `    ${c.name}) opts="${words(c)}" ;;`);
  const commands = [...COMMANDS.map((c) => c.name), "help", "completion"].join(" ");
  return `# bash completion for the wms generator (${toolVersion()}), generated for ${root}.
# Load it with: alias gen='npm run --silent gen --'; source <(gen completion bash)
_wms_gen() {
  local cur prev cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands} --help --version" -- "$cur"))
    return
  fi
  case "$prev" in
    --env|--from|--to|--allow-empty) COMPREPLY=($(compgen -W "${envs.join(" ")}" -- "$cur")); return ;;
    --output) COMPREPLY=($(compgen -W "${OUTPUT_FORMATS.join(" ")}" -- "$cur")); return ;;
  esac
  case "$cmd" in
${cases.join("\n")}
    help) opts="${COMMANDS.map((c) => c.name).join(" ")}" ;;
    completion) opts="bash" ;;
    *) opts="" ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _wms_gen gen
`;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const [first, second, ...more] = argv;
    if (first === "--version" || first === "-V") {
      process.stdout.write(`${toolVersion()}\n`);
      return 0;
    }
    if (first === "help" && second !== undefined) return main([second, "--help", ...more]);
    if (first === "completion") {
      if (second !== "bash" || more.length) {
        throw inputError([
          {
            field: "completion",
            message: `no completion for "${second ?? ""}"`,
            hint: "npm run gen -- completion bash",
          },
        ]);
      }
      const { listEnvironments } = await import("./config.ts");
      const root = resolve(process.env.WMS_ROOT ?? process.cwd());
      process.stdout.write(bashCompletion(root, listEnvironments(root)));
      return 0;
    }
    const { command, values } = parseCommandLine(first === "help" ? ["--help"] : argv, COMMANDS);
    if (!command) {
      process.stdout.write(`${help()}\n`);
      return values.help ? 0 : 2;
    }
    if (values.help) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return 0;
    }
    const root = resolve(String(values.root ?? process.env.WMS_ROOT ?? process.cwd()));
    await checkEnvironments(command, values, root);
    const code = await (command as Command).run(values, root);
    return typeof code === "number" ? code : 0;
  } catch (e) {
    const { text, code } = describeError(e);
    process.stderr.write(text);
    return code;
  }
}

process.exitCode = await main(process.argv.slice(2));
