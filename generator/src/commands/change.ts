/**
 * One change of one environment's version file, as deploy, promote and rollback make it:
 * render that environment from the new text (in memory: a change the gates or schemas refuse
 * writes nothing), write rendered/ and the text, commit both with a trailer (history.ts). A
 * failure after that puts the version file and rendered/ back exactly as they were and
 * unstages them.
 *
 * A change that would switch traffic to a version the previous commit did not deploy
 * (safety.ts) is made in two commits: the first only stages the version (retained, no
 * traffic); the second switches, either at once after `--wait` saw the version's Argo CD
 * Application Synced to the first commit and Healthy, or when the user runs the command again.
 */
import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { connectArgo, waitHealthy } from "../argo.ts";
import { loadEnvironment, type VersionFile } from "../config.ts";
import { inputError } from "../errors.ts";
import {
  commitPaths,
  dirtyPaths,
  fileAt,
  isAncestor,
  isGitRepo,
  push,
  requireGitRepo,
  short,
  unstage,
  upstreamCommit,
} from "../git.ts";
import { RENDERED_DIR, readTree, writeRendered } from "../output.ts";
import { renderAll } from "../pipeline.ts";
import { versionAppName } from "../render/names.ts";
import { readInputFile } from "../repo-file.ts";
import { notYetDeployed } from "../safety.ts";
import { addRetained, emptyVersionFile } from "../version-edit.ts";
import { parseYamlSource } from "../yaml-source.ts";
import { runRender } from "./render.ts";

export interface ChangeContext {
  root: string;
  env: string;
  model: string;
  commit: boolean;
  /** commit, push, wait for the staged versions to be Healthy, then switch */
  wait: boolean;
  timeoutS: number;
  allowEmpty?: string[];
  out: (l: string) => void;
}

export interface EnvState {
  /** repository-relative version file */
  file: string;
  /** repository-relative rendered/ folder */
  rendered: string;
  exists: boolean;
  /** current text (the empty state when the file does not exist yet) */
  text: string;
  /** what the previous commit deploys (HEAD's version file; the file on disk outside git) */
  previous: VersionFile | undefined;
  git: boolean;
}

/** The environment's version file now and in the last commit; `requireClean` refuses local edits. */
export async function readState(
  ctx: ChangeContext,
  requireClean = ctx.commit || ctx.wait,
): Promise<EnvState> {
  if (!existsSync(join(ctx.root, "environments", ctx.env, "environment.yaml"))) {
    loadEnvironment(ctx.root, ctx.env); // throws the "environment.yaml missing" problem
  }
  const abs = join(ctx.root, "environments", ctx.env, `${ctx.model}.yaml`);
  const file = relative(ctx.root, abs);
  const rendered = relative(ctx.root, join(ctx.root, "environments", ctx.env, RENDERED_DIR));
  const exists = existsSync(abs);
  const text = exists ? readInputFile(abs, { root: ctx.root }) : emptyVersionFile(ctx.env, ctx.model);
  const git = await isGitRepo(ctx.root);
  if (requireClean) {
    await requireGitRepo(ctx.root);
    const dirty = await dirtyPaths(ctx.root, [file, rendered]);
    if (dirty.length) {
      const shown = dirty.length > 10 ? [...dirty.slice(0, 10), `and ${dirty.length - 10} more`] : dirty;
      throw inputError([
        {
          file,
          message: `this needs the version file and its rendered/ folder as committed; uncommitted changes: ${shown.join(", ")}`,
          hint: `commit or stash them first (git stash push -u -- ${file} ${rendered}), then run this again; git status lists them`,
        },
      ]);
    }
  }
  const headText = git ? await fileAt(ctx.root, "HEAD", file) : exists ? text : undefined;
  return { file, rendered, exists, text, previous: parseSpec(headText, git ? `HEAD:${file}` : file), git };
}

/** A version file's content (from the working tree or git) as data; `file` names it in problems. */
export const parseSpec = (text: string | undefined, file: string): VersionFile | undefined =>
  text === undefined ? undefined : ((parseYamlSource(text, file).data as VersionFile | null) ?? undefined);

/** "live 1.1.0, canary 1.2.0 @20%, retained 1.0.0" */
export function describeSpec(spec: VersionFile | undefined): string {
  if (!spec) return "nothing";
  const parts = [
    spec.live ? `live ${spec.live}` : "nothing live",
    ...(spec.canary ? [`canary ${spec.canary.version} @${spec.canary.weight}%`] : []),
    ...(spec.retain?.length ? [`retained ${spec.retain.join(", ")}`] : []),
  ];
  return parts.join(", ");
}

/** `text` as the environment's version file, for render (instead of the file on disk). */
const asVersionText = (ctx: ChangeContext, state: EnvState, text: string) => ({
  [ctx.env]: new Map([[basename(state.file), text]]),
});

/**
 * Render the environment from `text`, write rendered/ and `text`, and (with --commit) commit
 * both. On any failure the version file and rendered/ are put back byte for byte and the
 * error is rethrown.
 */
export async function applyText(
  ctx: ChangeContext,
  state: EnvState,
  text: string,
  subject: string,
  trailers: string[],
): Promise<string | undefined> {
  const abs = join(ctx.root, state.file);
  const renderedAbs = join(ctx.root, state.rendered);
  const before = existsSync(abs) ? readInputFile(abs, { root: ctx.root }) : undefined;
  const renderedBefore = existsSync(renderedAbs) ? readTree(renderedAbs) : undefined;
  let committing = false;
  try {
    runRender({
      root: ctx.root,
      check: false,
      envs: [ctx.env],
      allowEmpty: ctx.allowEmpty,
      versionTexts: asVersionText(ctx, state, text),
      out: ctx.out,
    });
    writeAtomic(abs, text);
    if (!ctx.commit && !ctx.wait) return undefined;
    committing = true;
    return await commitPaths(ctx.root, [state.file, state.rendered], subject, trailers);
  } catch (e) {
    if (before === undefined) rmSync(abs, { force: true });
    else writeAtomic(abs, before);
    if (renderedBefore === undefined) rmSync(renderedAbs, { recursive: true, force: true });
    else writeRendered(join(ctx.root, "environments", ctx.env), renderedBefore);
    if (committing) await unstage(ctx.root, [state.file, state.rendered]);
    throw e;
  }
}

/** Render `text` without writing anything: the gates and schemas a later switch must pass. */
export function validateText(ctx: ChangeContext, state: EnvState, text: string): void {
  renderAll(ctx.root, [ctx.env], asVersionText(ctx, state, text));
}

/**
 * Refuse a switch to versions the upstream branch does not deploy yet. The last commit stages
 * them, so the switch would pass safety.ts, but that commit is not pushed: Argo CD has not
 * deployed them anywhere, and a second `deploy`/`promote --commit` seconds after the first
 * would move traffic with nothing up in between. Without an upstream (a local repository)
 * there is nothing to compare with; the model app's readiness gate (render/gate.ts
 * renderVersionGate) still holds the route until the pods are Ready.
 */
export async function requirePushedStaging(
  ctx: ChangeContext,
  state: EnvState,
  next: VersionFile,
): Promise<void> {
  if (!state.git || !ctx.commit) return;
  const upstream = await upstreamCommit(ctx.root);
  if (!upstream) return;
  const there = parseSpec(await fileAt(ctx.root, upstream, state.file), `@{upstream}:${state.file}`);
  const waiting = notYetDeployed(there, next);
  if (!waiting.length) return;
  const config = loadEnvironment(ctx.root, ctx.env).config;
  const apps = waiting.map((v) => versionAppName(config, ctx.model, v));
  const are = waiting.length > 1 ? "are" : "is";
  throw inputError([
    {
      file: state.file,
      message: `${waiting.join(", ")} ${are} staged by a commit that is not pushed yet (@{upstream} ${short(upstream)} does not deploy ${waiting.length > 1 ? "them" : "it"}), so Argo CD has not brought ${waiting.length > 1 ? "them" : "it"} up`,
      hint: `push (git push), wait until ${apps.join(", ")} ${are} Synced and Healthy (npm run gen -- status --live), then run this again`,
    },
  ]);
}

/** What to tell the user after a change that was not committed. */
export function commitHint(state: EnvState, subject: string, trailers: string[]): string {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  return `git add -A -- ${state.file} ${state.rendered} && git commit -m ${q(subject)}${trailers.map((t) => ` -m ${q(t)}`).join("")} -- ${state.file} ${state.rendered}`;
}

/**
 * Stage `missing` (retained, no traffic) in a first commit, then switch to `target`: with
 * --wait after their Applications are Healthy at that commit, otherwise by telling the user
 * to run `again` once they are.
 */
export async function stageThenSwitch(
  ctx: ChangeContext,
  state: EnvState,
  missing: string[],
  steps: {
    target: () => Promise<{ state: EnvState; text: string }>;
    stageSubject: string;
    stageTrailers: string[];
    switchSubject: string;
    switchTrailers: string[];
    again: string;
  },
): Promise<void> {
  const { out } = ctx;
  const first = await steps.target();
  validateText(ctx, state, first.text); // a version the gates refuse is not staged either
  const staged = addRetained(state.text, missing, state.file);
  if (staged === state.text) {
    throw inputError([
      {
        file: state.file,
        message: `${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} retained in the working tree but not in the last commit, so ${missing.length > 1 ? "they are" : "it is"} not up yet`,
        hint: "commit and push that version file first, wait until its Application is Healthy (npm run gen -- status --live), then run this again",
      },
    ]);
  }
  const config = loadEnvironment(ctx.root, ctx.env).config;
  const apps = missing.map((v) => versionAppName(config, ctx.model, v));
  const argo = ctx.wait ? await connectArgo("--wait") : undefined; // before anything is written
  const sha = await applyText(ctx, state, staged, steps.stageSubject, steps.stageTrailers);
  const what = `${missing.join(", ")} staged in ${ctx.env} (deployed, no traffic)`;
  if (!argo || !sha) {
    out(
      sha
        ? `\ncommitted ${short(sha)}: ${steps.stageSubject}\n${what}: traffic moves only to a version that is already up.` +
            `\nPush it; when ${apps.join(", ")} ${apps.length > 1 ? "are" : "is"} Synced and Healthy (npm run gen -- status --live), switch with:\n  ${steps.again}`
        : `\n${what}. Commit it:\n  ${commitHint(state, steps.stageSubject, steps.stageTrailers)}` +
            `\nthen push, and when ${apps.join(", ")} ${apps.length > 1 ? "are" : "is"} Healthy switch with:\n  ${steps.again}`,
    );
    return;
  }
  out(`\ncommitted ${short(sha)}: ${steps.stageSubject}; pushing and waiting for ${apps.join(", ")}`);
  await push(ctx.root);
  await waitHealthy(argo, apps, {
    contains: (rev) => isAncestor(ctx.root, sha, rev),
    timeoutS: ctx.timeoutS,
    out,
    onTimeout: (states) =>
      inputError([
        {
          message: `timed out after ${ctx.timeoutS}s waiting for ${states}`,
          hint: `the staging commit ${short(sha)} stays (no traffic moved); switch later with: ${steps.again}`,
        },
      ]),
  });
  const next = await steps.target();
  const switched = await applyText(ctx, next.state, next.text, steps.switchSubject, steps.switchTrailers);
  await push(ctx.root);
  out(`\ncommitted and pushed ${short(switched ?? "")}: ${steps.switchSubject}`);
}

function writeAtomic(file: string, text: string) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
