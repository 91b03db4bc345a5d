/**
 * The two delivery rules, as pure functions of a version file before and after a change. One
 * definition, used by deploy/promote/rollback (before they commit), by `render` (before it
 * writes) and by `check --base` (on a pull request):
 *
 * 1. Switch only to what is up: a version may take traffic (live or canary) only if the
 *    previous commit of that environment already deployed it (live, canary or retained).
 *    The routing Application and the version's Application sync independently, so otherwise
 *    traffic would reach a Service without ready endpoints. This rule reads commit history,
 *    which two commits in one push or a revert get around; what holds whatever the history is
 *    the model app's readiness gate (render/gate.ts renderVersionGate): the route changes only
 *    once the target's pods are Ready at the capacity its weight needs.
 * 2. Never empty by accident: a change that leaves a model with nothing deployed, or with
 *    nothing live, where the previous state had versions, needs `--allow-empty <env>`.
 */
import { deployedVersions, type VersionFile } from "./config.ts";

/** Versions that get traffic (live, canary). */
export const trafficVersions = (spec: VersionFile | undefined): string[] =>
  spec ? [spec.live, spec.canary?.version].filter((v): v is string => Boolean(v)) : [];

export const deployedSet = (spec: VersionFile | undefined): Set<string> =>
  new Set(spec ? deployedVersions(spec).map((v) => v.version) : []);

/** Traffic versions of `next` that `previous` did not deploy: the versions a switch must wait for. */
export function notYetDeployed(previous: VersionFile | undefined, next: VersionFile | undefined): string[] {
  const up = deployedSet(previous);
  return trafficVersions(next).filter((v) => !up.has(v));
}

export type Emptying = "nothing-deployed" | "nothing-live";

/** What one model deploys, as far as rule 2 looks: some version at all, and one that is live. */
export interface Occupancy {
  deployed: boolean;
  live: boolean;
}

/** Rule 2, once: whether going from `previous` to `next` empties a model. Read from version
 * files by `emptying`, from rendered output by `render`. */
export function emptyingOf(previous: Occupancy, next: Occupancy): Emptying | undefined {
  if (previous.deployed && !next.deployed) return "nothing-deployed";
  if (previous.live && !next.live) return "nothing-live";
  return undefined;
}

const occupancy = (spec: VersionFile | undefined): Occupancy => ({
  deployed: deployedSet(spec).size > 0,
  live: Boolean(spec?.live),
});

/** Whether `next` empties what `previous` ran (undefined `next`: the version file is gone). */
export const emptying = (
  previous: VersionFile | undefined,
  next: VersionFile | undefined,
): Emptying | undefined => emptyingOf(occupancy(previous), occupancy(next));

export const EMPTYING_TEXT: Record<Emptying, string> = {
  "nothing-deployed": "would remove every deployed version",
  "nothing-live": "would leave nothing live (no version gets traffic)",
};

export const allowEmptyHint = (env: string) =>
  `if you really mean to empty ${env}, pass --allow-empty ${env}; to undo a deploy use \`npm run gen -- rollback --env ${env}\``;
