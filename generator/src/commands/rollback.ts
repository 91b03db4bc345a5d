/**
 * `rollback`: `git revert` of the newest deploy commit of one environment's version file.
 * Deploy commits hold the version file and its render together, so the revert brings both
 * back byte for byte; `render --check` then confirms it.
 */
import { join, relative } from "node:path";
import { inputError } from "../errors.ts";
import { commitsTouching, filesOfCommit, requireGitRepo, revert } from "../git.ts";
import { runRender } from "./render.ts";

export async function runRollback(opts: {
  root: string;
  env: string;
  model: string;
  commit: boolean;
  out?: (l: string) => void;
}): Promise<void> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  await requireGitRepo(opts.root);
  const file = relative(opts.root, join(opts.root, "environments", opts.env, `${opts.model}.yaml`));
  const [last] = await commitsTouching(opts.root, file, 1);
  if (!last)
    throw inputError([{ file, message: "has no commit to roll back", hint: "check --env and --model" }]);
  const touched = await filesOfCommit(opts.root, last.sha);
  const foreign = touched.filter((f) => !f.startsWith(`environments/${opts.env}/`));
  if (foreign.length) {
    throw inputError([
      {
        file,
        message: `its last commit ${last.sha} ("${last.subject}") also changes ${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", …" : ""}`,
        hint: `revert by hand (git revert ${last.sha}) if you mean to undo all of it; deploy commits should touch one environment`,
      },
    ]);
  }
  out(`reverting ${last.sha} (${last.subject}, ${last.date.slice(0, 16)} by ${last.author})`);
  await revert(opts.root, last.sha, opts.commit);
  runRender({ root: opts.root, check: true, envs: [opts.env], out });
  out(
    opts.commit
      ? "rolled back: push the revert commit; Argo CD syncs it."
      : "revert staged (not committed): review and commit it.",
  );
}
