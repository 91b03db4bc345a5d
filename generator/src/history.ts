/**
 * Which commits deployed an environment, and which rolled one back: the commit trailers the
 * workflow commands write, read back from `git log` of the version file. Pure: a log in,
 * a decision out.
 *
 *   Wms-Deploy: <env>                    deploy/promote (the staging commit and the switch commit)
 *   Wms-Rollback: <env> <sha>            rollback of the deploy <sha>
 *   Wms-Rollback-Stage: <env> <sha>      first commit of a rollback that must wait for a version
 *                                        to come up before it switches (a rollback in progress)
 *
 * A plain `git revert` ("This reverts commit <sha>.") counts as a rollback of <sha>. Any other
 * commit that changed what the version file deploys (a hand edit, the train workflow staging a
 * release) counts as a deploy: the version file is what deploys. One that changed only its
 * comments or layout (the same live, canary, shadow and retained versions) deploys nothing.
 */
import type { LoggedCommit } from "./git.ts";

export const TRAILER = {
  deploy: "Wms-Deploy",
  rollback: "Wms-Rollback",
  rollbackStage: "Wms-Rollback-Stage",
} as const;

export const deployTrailer = (env: string) => `${TRAILER.deploy}: ${env}`;
export const rollbackTrailer = (env: string, sha: string) => `${TRAILER.rollback}: ${env} ${sha}`;
export const rollbackStageTrailer = (env: string, sha: string) => `${TRAILER.rollbackStage}: ${env} ${sha}`;

function trailerTarget(message: string, key: string, env: string): string | undefined {
  const re = new RegExp(`^${key}: (\\S+) ([0-9a-f]{7,40})\\s*$`, "gm");
  for (const m of message.matchAll(re)) if (m[1] === env) return m[2];
  return undefined;
}

/** The deploy this commit undoes, if it is a rollback (ours or a plain git revert). */
export function undoes(c: LoggedCommit, env: string): string | undefined {
  return (
    trailerTarget(c.message, TRAILER.rollback, env) ??
    /^This reverts commit ([0-9a-f]{40})\./m.exec(c.message)?.[1]
  );
}

export interface RollbackTarget {
  /** the deploy commit whose effect on the version file is undone */
  sha: string;
  subject: string;
  /** true when the newest change is the first half of a rollback of `sha` */
  completing: boolean;
}

/**
 * The deploy a rollback undoes: walking the version file's log newest first, skip rollbacks
 * and what they undid (so a second rollback goes one deploy further back and never
 * re-deploys); a rolled-back rollback no longer counts. Merges are skipped (their branches'
 * commits are in the log themselves).
 */
export function rollbackTarget(
  log: LoggedCommit[],
  env: string,
  /** false for a commit that left what the version file deploys as it was (a comment, a reformat) */
  changesDeploy: (c: LoggedCommit) => boolean = () => true,
): RollbackTarget | undefined {
  const undone = new Set<string>();
  const isUndone = (sha: string) => [...undone].some((u) => sha.startsWith(u));
  const bySha = (sha: string) => log.find((c) => c.sha.startsWith(sha));
  let newest = true;
  for (const c of log) {
    if (c.parents.length > 1 || isUndone(c.sha)) continue;
    const stage = trailerTarget(c.message, TRAILER.rollbackStage, env);
    if (stage) {
      if (newest && !isUndone(stage)) {
        return { sha: bySha(stage)?.sha ?? stage, subject: bySha(stage)?.subject ?? "", completing: true };
      }
      newest = false;
      continue;
    }
    newest = false;
    const target = undoes(c, env);
    if (target) {
      undone.add(target);
      continue;
    }
    // not a deploy: undoing it would move no traffic and touch nothing that runs
    if (!changesDeploy(c)) continue;
    return { sha: c.sha, subject: c.subject, completing: false };
  }
  return undefined;
}
