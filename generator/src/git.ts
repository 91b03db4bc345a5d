/** The git operations the workflow commands need, through zx (which quotes every value). */
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

export async function commitPaths(root: string, paths: string[], message: string): Promise<string> {
  await at(root)`git add -A -- ${paths}`;
  await at(root)`git commit -q -m ${message} -- ${paths}`;
  return (await at(root)`git rev-parse --short HEAD`).stdout.trim();
}

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

export async function filesOfCommit(root: string, sha: string): Promise<string[]> {
  const r = await at(root)`git show --name-only --format= ${sha}`;
  return r.stdout.split("\n").filter(Boolean);
}

export async function revert(root: string, sha: string, commit: boolean): Promise<void> {
  await at(root)`git revert --no-edit ${commit ? [] : ["--no-commit"]} ${sha}`;
}

export async function isClean(root: string, paths: string[]): Promise<boolean> {
  const r = await at(root)`git status --porcelain -- ${paths}`;
  return r.stdout.trim() === "";
}
