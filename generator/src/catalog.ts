/**
 * The release catalog: model/releases/<model>/<version>/model-card.json, committed by
 * `publish`. Rendering reads nothing else about a model, so it stays offline and deterministic.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { compare as semverCompare, parse as semverParse } from "semver";
import { inputError, type Problem, WmsError } from "./errors.ts";
import { type ModelCard, parseCard } from "./model-card.ts";
import { readInputFile } from "./repo-file.ts";

export interface CatalogEntry {
  card: ModelCard;
  /** repository-relative path of the card */
  file: string;
  /** true when the repo ships model.onnx beside the card, for local use */
  hasLocalModel: boolean;
}

export type Catalog = Map<string, Map<string, CatalogEntry>>;

export const RELEASES_DIR = join("model", "releases");

export function loadCatalog(root: string): Catalog {
  const releases = join(root, RELEASES_DIR);
  const catalog: Catalog = new Map();
  const problems: Problem[] = [];
  if (!existsSync(releases)) return catalog;
  for (const model of subdirs(releases)) {
    const versions = new Map<string, CatalogEntry>();
    for (const version of subdirs(join(releases, model))) {
      const abs = join(releases, model, version, "model-card.json");
      const file = relative(root, abs);
      if (!existsSync(abs)) {
        problems.push({
          file,
          message: "release folder without model-card.json",
          hint: "publish the version or remove the folder",
        });
        continue;
      }
      try {
        const card = parseCard(readInputFile(abs, { root, what: "card" }), file);
        if (card.name !== model || card.version !== version) {
          problems.push({
            file,
            field: card.name !== model ? "name" : "version",
            message: `card says ${card.name} ${card.version} but sits in ${model}/${version}`,
            hint: "cards live in model/releases/<name>/<version>/",
          });
          continue;
        }
        versions.set(version, {
          card,
          file,
          hasLocalModel: existsSync(join(releases, model, version, "model.onnx")),
        });
      } catch (e) {
        if (e instanceof WmsError) problems.push(...e.problems);
        else throw e;
      }
    }
    catalog.set(model, versions);
  }
  if (problems.length) throw inputError(problems, "the release catalog has invalid cards");
  return catalog;
}

const subdirs = (dir: string) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

/**
 * Semantic-version order (SemVer 2.0.0 precedence: prereleases before their release, numeric
 * identifiers compared as numbers, so rc.10 after rc.9), for tables and "latest". The `semver`
 * package does it; a version it cannot parse (the schemas refuse those) sorts by plain text.
 */
export function compareVersions(a: string, b: string): number {
  const va = semverParse(a);
  const vb = semverParse(b);
  if (va && vb) return semverCompare(va, vb);
  return a < b ? -1 : a > b ? 1 : 0;
}
