/**
 * `deploy` and `promote`: edit one environment's version file, render, and (with --commit)
 * commit both as one deploy commit (trailer `Wms-Deploy: <env>`). A version that is not up yet
 * is staged first (change.ts). A change that fails validation or a gate writes nothing.
 */
import { loadEnvironment } from "../config.ts";
import { inputError } from "../errors.ts";
import { short } from "../git.ts";
import { deployTrailer } from "../history.ts";
import { notYetDeployed } from "../safety.ts";
import { applyDeploy } from "../version-edit.ts";
import {
  applyText,
  type ChangeContext,
  commitHint,
  readState,
  requirePushedStaging,
  stageThenSwitch,
} from "./change.ts";

export interface DeployOptions {
  root: string;
  env: string;
  model: string;
  version: string;
  canary?: number;
  retainPrevious?: boolean;
  commit: boolean;
  wait?: boolean;
  timeoutS?: number;
  /** the command that repeats this deploy (shown after staging); default: the deploy command */
  again?: string;
  out?: (l: string) => void;
}

export async function runDeploy(opts: DeployOptions): Promise<void> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const ctx: ChangeContext = {
    root: opts.root,
    env: opts.env,
    model: opts.model,
    commit: opts.commit || Boolean(opts.wait),
    wait: Boolean(opts.wait),
    timeoutS: opts.timeoutS ?? 900,
    out,
  };
  const change = { version: opts.version, canaryWeight: opts.canary, retainPrevious: opts.retainPrevious };
  const state = await readState(ctx);
  const target = applyDeploy(state.text, change, state.file);
  if (target.text === state.text && state.exists) {
    out(
      `${opts.env}: ${opts.model} ${opts.version} is already ${opts.canary ? "the canary" : "live"}; nothing to do.`,
    );
    return;
  }
  const what =
    opts.canary !== undefined
      ? `canary ${opts.version} at ${opts.canary}% (live ${target.after.live})`
      : `live ${opts.version} (was ${target.before.live ?? "none"})`;
  const subject = `deploy(${opts.env}): ${opts.model} ${what}`;
  const trailers = [deployTrailer(opts.env)];
  const missing = notYetDeployed(state.previous, target.after);
  if (missing.length) {
    const again =
      opts.again ??
      [
        "npm run gen -- deploy",
        `--env ${opts.env}`,
        `--version ${opts.version}`,
        ...(opts.canary !== undefined ? [`--canary ${opts.canary}`] : []),
        ...(opts.retainPrevious === false ? ["--no-retain"] : []),
        ...(opts.model !== "wms" ? [`--model ${opts.model}`] : []),
        "--commit",
      ].join(" ");
    await stageThenSwitch(ctx, state, missing, {
      target: async () => {
        const s = await readState(ctx);
        return { state: s, text: applyDeploy(s.text, change, s.file).text };
      },
      stageSubject: `deploy(${opts.env}): stage ${opts.model} ${missing.join(", ")} (deployed, no traffic yet)`,
      stageTrailers: trailers,
      switchSubject: subject,
      switchTrailers: trailers,
      again,
    });
    return;
  }
  await requirePushedStaging(ctx, state, target.after);
  const sha = await applyText(ctx, state, target.text, subject, trailers);
  if (sha) {
    out(
      `\ncommitted ${short(sha)}: ${subject}. Push it; Argo CD syncs it. Roll back with: npm run gen -- rollback --env ${opts.env} --commit`,
    );
  } else {
    out(
      `\n${state.file} now deploys ${what}. Commit it (the trailer marks it as a deploy):\n  ${commitHint(state, subject, trailers)}`,
    );
  }
}

export async function runPromote(opts: Omit<DeployOptions, "version"> & { from: string }): Promise<void> {
  if (opts.from === opts.env) {
    throw inputError([
      {
        message: "--from and --to are the same environment",
        hint: "promote from one environment to the next, e.g. --from staging --to prod",
      },
    ]);
  }
  const source = loadEnvironment(opts.root, opts.from);
  const vf = source.versionFiles.find((v) => v.spec.model === opts.model);
  if (!vf?.spec.live) {
    throw inputError([
      {
        file: vf?.source.file,
        message: `environment ${opts.from} has nothing live for ${opts.model}`,
        hint: "promote from an environment that runs it",
      },
    ]);
  }
  const again = [
    "npm run gen -- promote",
    `--from ${opts.from}`,
    `--to ${opts.env}`,
    ...(opts.canary !== undefined ? [`--canary ${opts.canary}`] : []),
    ...(opts.retainPrevious === false ? ["--no-retain"] : []),
    ...(opts.model !== "wms" ? [`--model ${opts.model}`] : []),
    "--commit",
  ].join(" ");
  await runDeploy({ ...opts, version: vf.spec.live, again });
}
