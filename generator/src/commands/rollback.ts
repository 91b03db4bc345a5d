/**
 * `rollback`: restore one environment's version file to its state before the last deploy of
 * that environment (history.ts decides which, skipping earlier rollbacks), re-render, commit
 * with `Wms-Rollback: <env> <sha>`. By content, not by history: unrelated commits since (an
 * image digest bump that re-rendered, catalog additions, the model card of a train commit)
 * stay as they are, and nothing can conflict. Any failure leaves the tree as it was.
 */
import { inputError } from "../errors.ts";
import { fileAt, type LoggedCommit, logOfPath, requireGitRepo, short } from "../git.ts";
import { rollbackStageTrailer, rollbackTarget, rollbackTrailer } from "../history.ts";
import { allowEmptyHint, EMPTYING_TEXT, emptying, notYetDeployed } from "../safety.ts";
import { emptyVersionFile } from "../version-edit.ts";
import {
  applyText,
  type ChangeContext,
  commitHint,
  describeSpec,
  parseSpec,
  readState,
  stageThenSwitch,
} from "./change.ts";

export async function runRollback(opts: {
  root: string;
  env: string;
  model: string;
  commit: boolean;
  wait?: boolean;
  timeoutS?: number;
  allowEmpty?: string[];
  out?: (l: string) => void;
}): Promise<void> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  await requireGitRepo(opts.root);
  const ctx: ChangeContext = {
    root: opts.root,
    env: opts.env,
    model: opts.model,
    commit: opts.commit || Boolean(opts.wait),
    wait: Boolean(opts.wait),
    timeoutS: opts.timeoutS ?? 900,
    allowEmpty: opts.allowEmpty,
    out,
  };
  // a rollback always starts from a committed state, so what it undoes is well defined
  const state = await readState(ctx, true);
  const log = await logOfPath(opts.root, state.file);
  const deploys = await deployingCommits(opts.root, state.file, log);
  const target = rollbackTarget(log, opts.env, (c) => deploys.has(c.sha));
  if (!target) {
    throw inputError([
      {
        file: state.file,
        message: `nothing to roll back: no commit in its history changed what ${opts.env} deploys`,
        hint: `check --env and --model; git log -- ${state.file} lists its commits`,
      },
    ]);
  }
  const restoredText =
    (await fileAt(opts.root, `${target.sha}^`, state.file)) ?? emptyVersionFile(opts.env, opts.model);
  const restored = parseSpec(restoredText, `${short(target.sha)}^:${state.file}`);
  const undo = `${short(target.sha)} "${target.subject}"`;
  if (restoredText === state.text) {
    throw inputError([
      {
        file: state.file,
        message: `is already as it was before ${undo}`,
        hint: `nothing to roll back; see git log -- ${state.file}`,
      },
    ]);
  }
  const empties = emptying(state.previous, restored);
  if (empties && !opts.allowEmpty?.includes(opts.env)) {
    throw inputError([
      {
        file: state.file,
        message: `rolling back ${undo} ${EMPTYING_TEXT[empties]} (before it: ${describeSpec(restored)})`,
        hint: allowEmptyHint(opts.env),
      },
    ]);
  }
  out(`${opts.env}: undoing ${undo}: ${describeSpec(state.previous)} → ${describeSpec(restored)}`);
  const subject = `rollback(${opts.env}): ${opts.model} ${describeSpec(restored)} (undoes ${undo})`;
  const trailers = [rollbackTrailer(opts.env, target.sha)];
  const missing = notYetDeployed(state.previous, restored);
  if (missing.length) {
    await stageThenSwitch(ctx, state, missing, {
      target: async () => ({ state: await readState(ctx, ctx.commit), text: restoredText }),
      stageSubject: `rollback(${opts.env}): stage ${opts.model} ${missing.join(", ")} before undoing ${short(target.sha)}`,
      stageTrailers: [rollbackStageTrailer(opts.env, target.sha)],
      switchSubject: subject,
      switchTrailers: trailers,
      again: `npm run gen -- rollback --env ${opts.env}${opts.model !== "wms" ? ` --model ${opts.model}` : ""} --commit (completes this rollback)`,
    });
    return;
  }
  const sha = await applyText(ctx, state, restoredText, subject, trailers);
  out(
    sha
      ? `\ncommitted ${short(sha)}: ${subject}\nrolled back: push it; Argo CD syncs it.`
      : `\nrolled back in the working tree (not committed). Commit it with its trailer, so a second rollback goes one deploy further back:\n  ${commitHint(state, subject, trailers)}`,
  );
}

/** What a version file deploys, comments and layout aside: its versions, roles and weights. */
const deployed = (text: string | undefined, file: string): string => {
  try {
    const spec = parseSpec(text, file);
    return JSON.stringify([spec?.live, spec?.canary, spec?.shadow, spec?.retain ?? []]);
  } catch {
    return `unreadable ${file}`; // a broken version file in history: a change all the same
  }
};

/** The commits of `log` (merges aside) after which the version file deploys something else than before. */
async function deployingCommits(root: string, file: string, log: LoggedCommit[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const c of log) {
    if (c.parents.length > 1) continue;
    const after = deployed(await fileAt(root, c.sha, file), `${short(c.sha)}:${file}`);
    const parentText = c.parents.length ? await fileAt(root, `${c.sha}^`, file) : undefined;
    const before = deployed(parentText, `${short(c.sha)}^:${file}`);
    if (after !== before) out.add(c.sha);
  }
  return out;
}
