/**
 * Edit a version file the way a person would: change only the keys that move, keep comments
 * and layout. Pure text in, text out.
 */
import { parseDocument } from "yaml";
import type { VersionFile } from "./config.ts";

export interface DeployChange {
  version: string;
  /** percent for a canary; undefined makes the version live */
  canaryWeight?: number;
  /** keep the previous live version deployed without traffic (default true) */
  retainPrevious?: boolean;
}

export function applyDeploy(
  text: string,
  change: DeployChange,
): { text: string; before: VersionFile; after: VersionFile } {
  const doc = parseDocument(text);
  const before = doc.toJS() as VersionFile;
  const after: VersionFile = structuredClone(before);
  const { version } = change;
  if (change.canaryWeight !== undefined) {
    after.canary = { version, weight: change.canaryWeight };
  } else if (before.live !== version) {
    after.live = version;
    if (after.canary?.version === version) delete after.canary;
    if (change.retainPrevious ?? true) after.retain = [...(after.retain ?? []), before.live];
  }
  after.retain = (after.retain ?? []).filter((v) => v !== after.live && v !== after.canary?.version);
  after.retain = [...new Set(after.retain)];

  doc.set("live", after.live);
  if (after.canary) doc.set("canary", doc.createNode(after.canary, { flow: true }));
  else doc.delete("canary");
  if (after.retain.length) doc.set("retain", doc.createNode(after.retain, { flow: true }));
  else doc.delete("retain");
  return { text: doc.toString({ lineWidth: 0 }), before, after };
}
