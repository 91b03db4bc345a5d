/**
 * What a read command prints: its table for people, or the same facts as one JSON or YAML
 * document for scripts (`--output json|yaml`). The document's shape is documented in
 * docs/usage.md ("Scripting"); `schemaVersion` changes only when a field changes meaning or goes
 * away (fields may be added within a version). Pure: the caller writes the string.
 */
import { stringify } from "yaml";

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const REPORT_SCHEMA_VERSION = 1;

/** The text to print for `format`: `table()` (called only then) or the document. */
export function report(
  format: OutputFormat | undefined,
  command: string,
  doc: Record<string, unknown>,
  table: () => string,
): string {
  if (format === undefined || format === "table") return table();
  const full = { command, schemaVersion: REPORT_SCHEMA_VERSION, ...doc };
  return format === "json" ? JSON.stringify(full, null, 2) : stringify(full).trimEnd();
}
