/** git in a test's private repository, as a fixed author (no user config needed). */
import { execFileSync } from "node:child_process";

export const gitEnv = {
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@e",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@e",
};

/** `git <args>` in `cwd`; its stdout; throws on a non-zero exit. */
export const git = (cwd: string, ...args: string[]): string =>
  execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...gitEnv } });
