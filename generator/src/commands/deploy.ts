/**
 * `deploy` and `promote`: edit one environment's version file, render, and (with --commit)
 * commit both as one deploy commit, the unit `rollback` reverts. A change that fails
 * validation or a gate restores the version file and writes nothing.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { loadEnvironment } from "../config.ts";
import { inputError } from "../errors.ts";
import { commitPaths, isClean, requireGitRepo } from "../git.ts";
import { applyDeploy } from "../version-edit.ts";
import { runRender } from "./render.ts";

export interface DeployOptions {
  root: string;
  env: string;
  model: string;
  version: string;
  canary?: number;
  retainPrevious?: boolean;
  commit: boolean;
  out?: (l: string) => void;
}

export async function runDeploy(opts: DeployOptions): Promise<void> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const file = join(opts.root, "environments", opts.env, `${opts.model}.yaml`);
  const rel = relative(opts.root, file);
  if (!existsSync(file)) {
    throw inputError([
      {
        file: rel,
        message: "no version file",
        hint: `create it with "model: ${opts.model}" and "live: <version>" (see environments/dev/${opts.model}.yaml)`,
      },
    ]);
  }
  const paths = [rel, relative(opts.root, join(opts.root, "environments", opts.env, "rendered"))];
  if (opts.commit) {
    await requireGitRepo(opts.root);
    if (!(await isClean(opts.root, paths))) {
      throw inputError([
        {
          file: rel,
          message: "has uncommitted changes (or its rendered/ folder does)",
          hint: "commit or discard them first",
        },
      ]);
    }
  }
  const original = readFileSync(file, "utf8");
  const { text, before, after } = applyDeploy(original, {
    version: opts.version,
    canaryWeight: opts.canary,
    retainPrevious: opts.retainPrevious,
  });
  if (text === original) {
    out(
      `${opts.env}: ${opts.model} ${opts.version} is already ${opts.canary ? "the canary" : "live"}; nothing to do.`,
    );
    return;
  }
  writeAtomic(file, text);
  try {
    runRender({ root: opts.root, check: false, envs: [opts.env], out });
  } catch (e) {
    writeAtomic(file, original);
    throw e;
  }
  const what =
    opts.canary !== undefined
      ? `canary ${opts.version} at ${opts.canary}% (live ${after.live})`
      : `live ${opts.version} (was ${before.live})`;
  if (opts.commit) {
    const sha = await commitPaths(opts.root, paths, `deploy(${opts.env}): ${opts.model} ${what}`);
    out(
      `\ncommitted ${sha}: deploy(${opts.env}): ${opts.model} ${what}. Push it; Argo CD syncs it. Roll back with: npm run gen -- rollback --env ${opts.env}`,
    );
  } else {
    out(`\n${rel} now deploys ${what}. Commit ${paths.join(" and ")} together (or rerun with --commit).`);
  }
}

export async function runPromote(opts: Omit<DeployOptions, "version"> & { from: string }): Promise<void> {
  const source = loadEnvironment(opts.root, opts.from);
  const vf = source.versionFiles.find((v) => v.spec.model === opts.model);
  if (!vf) {
    throw inputError([
      {
        message: `environment ${opts.from} does not deploy ${opts.model}`,
        hint: "promote from an environment that runs it",
      },
    ]);
  }
  if (opts.from === opts.env) {
    throw inputError([
      {
        message: "--from and --to are the same environment",
        hint: "promote from one environment to the next, e.g. --from staging --to prod",
      },
    ]);
  }
  await runDeploy({ ...opts, version: vf.spec.live });
}

function writeAtomic(file: string, text: string) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
