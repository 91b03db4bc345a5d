/** Run the generator CLI as a user would: a real process, real exit code, real stderr. */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(REPO_ROOT, "generator/src/cli.ts");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    encoding: "utf8",
    // COLUMNS unset: tables are whole (a pipe); a test that wants a width passes it
    env: { ...process.env, NO_COLOR: "1", COLUMNS: "", ...opts.env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A private copy of a fixture repo under test/fixtures/<name>. */
export function fixtureCopy(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `wms-${name}-`));
  cpSync(join(REPO_ROOT, "test/fixtures", name), dir, { recursive: true });
  return dir;
}

/** path → content of every file under dir: to prove a failed command touched nothing. */
export function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const abs = join(d, name);
      if (statSync(abs).isDirectory()) walk(abs);
      else out[relative(dir, abs)] = readFileSync(abs, "utf8");
    }
  };
  walk(dir);
  return out;
}
