/**
 * The MLflow registry as a mirror of the environments, pure: which aliases the version files
 * say each registered model should carry, and the changes from what it carries now.
 * `<env>` names the live version, `<env>-canary` the canary, `<env>-shadow` the shadow.
 * Aliases of other shapes (someone's `champion`) are not ours and are left alone.
 */
import type { VersionFile } from "./config.ts";

export interface EnvironmentVersions {
  env: string;
  spec: VersionFile;
}

/** alias → semantic version, per registered model */
export type AliasPlan = Map<string, Map<string, string>>;

export function desiredAliases(envs: EnvironmentVersions[]): AliasPlan {
  const plan: AliasPlan = new Map();
  for (const { env, spec } of envs) {
    const aliases = plan.get(spec.model) ?? new Map<string, string>();
    plan.set(spec.model, aliases);
    if (spec.live) aliases.set(env, spec.live);
    if (spec.canary) aliases.set(`${env}-canary`, spec.canary.version);
    if (spec.shadow) aliases.set(`${env}-shadow`, spec.shadow.version);
  }
  return plan;
}

export interface AliasChange {
  model: string;
  alias: string;
  /** the semantic version it points at after the change; undefined: removed */
  version?: string;
  /** the registry's model version number it points at after the change */
  registryVersion?: string;
  /** what it pointed at before (registry version number), if anything */
  before?: string;
}

/**
 * The changes that make `current` (alias → registry version number) match `desired`
 * (alias → semantic version) through `numberOf` (semantic version → registry version number).
 * Only aliases of the environments in `envs` are ours to remove.
 */
export function aliasChanges(
  model: string,
  desired: Map<string, string>,
  current: Map<string, string>,
  numberOf: Map<string, string>,
  envs: string[],
): { changes: AliasChange[]; missing: string[] } {
  const changes: AliasChange[] = [];
  const missing: string[] = [];
  for (const [alias, version] of [...desired].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const n = numberOf.get(version);
    if (!n) {
      missing.push(version);
      // whatever it points at now is not what runs: better no alias than a wrong one
      const before = current.get(alias);
      if (before) changes.push({ model, alias, before });
      continue;
    }
    const before = current.get(alias);
    if (before !== n)
      changes.push({ model, alias, version, registryVersion: n, ...(before ? { before } : {}) });
  }
  const ours = (alias: string) =>
    envs.some((e) => alias === e || alias === `${e}-canary` || alias === `${e}-shadow`);
  for (const [alias, before] of [...current].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (ours(alias) && !desired.has(alias)) changes.push({ model, alias, before });
  }
  return { changes, missing: [...new Set(missing)].sort() };
}
