/**
 * Edit a version file the way a person would: change only the keys that move, keep comments
 * and layout. Pure text in, text out.
 */
import { isMap, parseDocument, type YAMLMap } from "yaml";
import type { VersionFile } from "./config.ts";
import { inputError } from "./errors.ts";
import { parseYamlSource } from "./yaml-source.ts";

export interface DeployChange {
  version: string;
  /** percent for a canary; undefined makes the version live */
  canaryWeight?: number;
  /** keep the previous live version deployed without traffic (default true) */
  retainPrevious?: boolean;
}

/** The explicit empty state: a version file that deploys nothing (no `live`). */
export function emptyVersionFile(env: string, model: string): string {
  return [
    "# yaml-language-server: $schema=../../generator/schemas/version-file.schema.json",
    `# What runs in ${env}. Commit a change here (with \`npm run render\`) to deploy; \`npm run gen -- rollback --env ${env}\` rolls back.`,
    "# No `live`: nothing takes traffic here yet.",
    `model: ${model}`,
    "",
  ].join("\n");
}

/** `file` (repository-relative) names the version file in problems. */
export function applyDeploy(
  text: string,
  change: DeployChange,
  file: string,
): { text: string; before: VersionFile; after: VersionFile } {
  const before = parseYamlSource(text, file).data as VersionFile;
  const after: VersionFile = structuredClone(before);
  const { version } = change;
  if (change.canaryWeight !== undefined) {
    if (!before.live) {
      throw inputError([
        {
          field: "--canary",
          message: "nothing is live here, so there is no traffic to split with a canary",
          hint: `deploy ${version} live first (drop --canary)`,
        },
      ]);
    }
    after.canary = { version, weight: change.canaryWeight };
  } else if (before.live !== version) {
    after.live = version;
    if (after.canary?.version === version) delete after.canary;
    if ((change.retainPrevious ?? true) && before.live) after.retain = [...(after.retain ?? []), before.live];
  }
  return { text: writeSpec(text, after), before, after };
}

/** Keep `versions` deployed without traffic (appended to retain); live and canary unchanged. */
export function addRetained(text: string, versions: string[], file: string): string {
  const spec = parseYamlSource(text, file).data as VersionFile;
  return writeSpec(text, { ...spec, retain: [...(spec.retain ?? []), ...versions] });
}

/** `text` with `spec` written into it (what `analyze --commit` applies), comments kept. */
export function rewriteVersionFile(text: string, spec: VersionFile, file: string): string {
  parseYamlSource(text, file); // a file that does not parse is refused here, naming it
  return writeSpec(text, spec);
}

/** Write `spec`'s live, canary, shadow and retain into `text`, keeping everything else. */
function writeSpec(text: string, spec: VersionFile): string {
  const doc = parseDocument(text);
  const taken = new Set([spec.live, spec.canary?.version, spec.shadow?.version]);
  const retain = [...new Set(spec.retain ?? [])].filter((v) => !taken.has(v));
  const map = doc.contents;
  if (!isMap(map))
    throw inputError([{ message: "version file is not a YAML mapping", hint: "start from model: <name>" }]);
  if (spec.live === undefined) doc.delete("live");
  else if (map.has("live")) doc.set("live", spec.live);
  else insertAfter(map as YAMLMap, "model", doc.createPair("live", spec.live));
  if (spec.canary) doc.set("canary", doc.createNode(spec.canary, { flow: true }));
  else doc.delete("canary");
  if (spec.shadow) doc.set("shadow", doc.createNode(spec.shadow, { flow: true }));
  else doc.delete("shadow");
  if (retain.length) doc.set("retain", doc.createNode(retain, { flow: true }));
  else doc.delete("retain");
  return doc.toString({ lineWidth: 0 });
}

function insertAfter(map: YAMLMap, key: string, pair: ReturnType<YAMLMap["items"]["at"]> & object) {
  const i = map.items.findIndex((p) => (p.key as { value?: unknown } | null)?.value === key);
  map.items.splice(i + 1, 0, pair);
}
