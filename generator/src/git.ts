/** The git operations the workflow commands need, through zx (which quotes every value). */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { inputError } from "./errors.ts";

const at = (root: string) => $({ cwd: root, quiet: true });

export async function isGitRepo(root: string): Promise<boolean> {
  const r = await at(root)`git rev-parse --is-inside-work-tree`.nothrow();
  return r.exitCode === 0 && r.stdout.trim() === "true";
}

export async function requireGitRepo(root: string): Promise<void> {
  if (!(await isGitRepo(root))) {
    throw inputError([
      { message: `${root} is not a git work tree`, hint: "run this in a clone of the repository" },
    ]);
  }
}

/** Commit exactly `paths` with a subject and trailer lines (`Key: value`); returns the full sha. */
export async function commitPaths(
  root: string,
  paths: string[],
  subject: string,
  trailers: string[] = [],
): Promise<string> {
  // only paths git knows or that exist: a rendered/ folder that stays empty is neither
  const known = [];
  for (const p of paths) {
    if (existsSync(join(root, p)) || (await at(root)`git ls-files -- ${p}`).stdout.trim()) known.push(p);
  }
  paths = known;
  await at(root)`git add -A -- ${paths}`;
  const message = trailers.length ? `${subject}\n\n${trailers.join("\n")}\n` : subject;
  await at(root)`git commit -q -m ${message} -- ${paths}`;
  return headSha(root);
}

export async function headSha(root: string): Promise<string> {
  return (await at(root)`git rev-parse HEAD`).stdout.trim();
}

export const short = (sha: string) => sha.slice(0, 7);

export interface CommitInfo {
  sha: string;
  date: string;
  author: string;
  subject: string;
}

/** The newest commits that touched `path`, newest first. */
export async function commitsTouching(root: string, path: string, limit = 1): Promise<CommitInfo[]> {
  const r = await at(root)`git log -n ${String(limit)} --format=%h%x09%cI%x09%an%x09%s -- ${path}`.nothrow();
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [sha = "", date = "", author = "", subject = ""] = l.split("\t");
      return { sha, date, author, subject };
    });
}

export interface LoggedCommit {
  sha: string;
  parents: string[];
  subject: string;
  /** the whole message, trailers included */
  message: string;
}

/** Every commit that changed `path` (merges included), newest first. */
export async function logOfPath(root: string, path: string): Promise<LoggedCommit[]> {
  const r = await at(root)`git log --format=%H%x1f%P%x1f%s%x1f%B%x1e -- ${path}`.nothrow();
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split("\x1e")
    .map((rec) => rec.replace(/^\n/, ""))
    .filter(Boolean)
    .map((rec) => {
      const [sha = "", parents = "", subject = "", message = ""] = rec.split("\x1f");
      return { sha, parents: parents.split(" ").filter(Boolean), subject, message };
    });
}

/** The content of `path` at `rev`, or undefined when it does not exist there. */
export async function fileAt(root: string, rev: string, path: string): Promise<string | undefined> {
  const r = await at(root)`git show ${`${rev}:${path}`}`.nothrow();
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** Files (relative to the repo root) under `dir` at `rev`. */
export async function filesAt(root: string, rev: string, dir: string): Promise<string[]> {
  const r = await at(root)`git ls-tree -r --name-only ${rev} -- ${dir}`.nothrow();
  return r.exitCode === 0 ? r.stdout.split("\n").filter(Boolean) : [];
}

/** The commit `rev` names, or undefined when git does not know it. */
export async function resolveCommit(root: string, rev: string): Promise<string | undefined> {
  const r = await at(root)`git rev-parse --verify --quiet ${`${rev}^{commit}`}`.nothrow();
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** The commit the current branch's upstream (`@{upstream}`) is at; undefined without one. */
export async function upstreamCommit(root: string): Promise<string | undefined> {
  const r = await at(root)`git rev-parse --verify --quiet ${"@{upstream}"}`.nothrow();
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export async function isAncestor(root: string, ancestor: string, of: string): Promise<boolean> {
  return (await at(root)`git merge-base --is-ancestor ${ancestor} ${of}`.nothrow()).exitCode === 0;
}

/** Files under `paths` with uncommitted changes (staged, unstaged or untracked), repository-relative. */
export async function dirtyPaths(root: string, paths: string[]): Promise<string[]> {
  const r = await at(root)`git status --porcelain=v1 -z --untracked-files=all -- ${paths}`;
  // "XY path\0"; a rename or copy is followed by its source path as one more entry
  const entries = r.stdout.split("\0").filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as string;
    out.push(entry.slice(3));
    if (/^[RC]|^.[RC]/.test(entry)) i++;
  }
  return out;
}

/** Take `paths` out of the index again (after a failed commit). */
export async function unstage(root: string, paths: string[]): Promise<void> {
  await at(root)`git reset -q -- ${paths}`.nothrow();
}

/** `git push` of the current branch to its upstream; a one-line error when that fails. */
export async function push(root: string): Promise<void> {
  const r = await at(root)`git push -q`.nothrow();
  if (r.exitCode !== 0) {
    throw inputError([
      {
        message: `git push failed: ${r.stderr.split("\n").find((l) => l.trim()) ?? `exit ${r.exitCode}`}`,
        hint: "--wait pushes each commit so Argo CD can sync it: set an upstream (git push -u origin <branch>) or drop --wait",
      },
    ]);
  }
}
