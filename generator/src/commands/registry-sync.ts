/**
 * `registry-sync`: set the MLflow registered model's aliases from the version files, so the
 * registry says what runs where (`dev` → dev's live version, `dev-canary`, `dev-shadow`).
 */
import { listEnvironments, loadEnvironment } from "../config.ts";
import { WmsError } from "../errors.ts";
import { MlflowRegistry, VERSION_TAG } from "../mlflow.ts";
import { aliasChanges, desiredAliases, type EnvironmentVersions } from "../registry.ts";
import { table } from "../table.ts";

export async function runRegistrySync(opts: {
  root: string;
  trackingUri: string;
  envs?: string[];
  dryRun: boolean;
  out?: (l: string) => void;
}): Promise<void> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const names = opts.envs?.length ? opts.envs : listEnvironments(opts.root);
  const envs: EnvironmentVersions[] = names.flatMap((env) =>
    loadEnvironment(opts.root, env).versionFiles.map(({ spec }) => ({ env, spec })),
  );
  const registry = new MlflowRegistry(opts.trackingUri);
  const rows: string[][] = [];
  const problems = [];
  for (const [model, desired] of desiredAliases(envs)) {
    const current = await registry.aliases(model);
    if (!current) {
      problems.push({
        message: `MLflow at ${opts.trackingUri} has no registered model "${model}"`,
        hint: "training registers it (MLFLOW_TRACKING_URI set during export); check the tracking URI",
      });
      continue;
    }
    const { changes, missing } = aliasChanges(
      model,
      desired,
      current,
      await registry.versionNumbers(model),
      names,
    );
    for (const version of missing) {
      problems.push({
        message: `${model} ${version} is deployed but no model version of "${model}" carries the tag ${VERSION_TAG}=${version}`,
        hint: `register it (training's export does, with MLFLOW_TRACKING_URI set), or tag its model version ${VERSION_TAG}=${version} in MLflow`,
      });
    }
    for (const c of changes) {
      if (!opts.dryRun) {
        if (c.registryVersion) await registry.setAlias(model, c.alias, c.registryVersion);
        else await registry.deleteAlias(model, c.alias);
      }
      rows.push([
        model,
        c.alias,
        c.before ? `v${c.before}` : "-",
        c.registryVersion ? `v${c.registryVersion} (${c.version})` : "removed",
      ]);
    }
  }
  out(
    rows.length
      ? table(["MODEL", "ALIAS", "BEFORE", "NOW"], rows)
      : "aliases already match the version files",
  );
  if (opts.dryRun && rows.length) out("(dry run: nothing changed)");
  if (problems.length) throw new WmsError("input", problems, `${problems.length} alias(es) could not be set`);
}
