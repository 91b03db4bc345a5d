/**
 * Read terraform .tf/.tfvars files with the HCL parser checkov uses (python-hcl2 in
 * .venv-checkov, installed by scripts/setup.sh), unwrapping python-hcl2's one-element lists.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./cli.ts";

const PYTHON = join(REPO_ROOT, ".venv-checkov/bin/python");

/** python-hcl2 wraps attribute values and blocks in lists; unwrap the one-element ones. */
export function unwrap(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 1 ? unwrap(v[0]) : v.map(unwrap);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

/** Parse one file relative to the repository root. */
export function readHcl(path: string): Record<string, unknown> {
  if (!existsSync(PYTHON))
    throw new Error("python-hcl2 is not installed: run `bash scripts/setup.sh` (it creates .venv-checkov)");
  const r = spawnSync(
    PYTHON,
    [
      "-c",
      "import json,sys,hcl2; json.dump(hcl2.load(open(sys.argv[1])), sys.stdout)",
      join(REPO_ROOT, path),
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`parsing ${path} failed:\n${r.stderr}`);
  return unwrap(JSON.parse(r.stdout)) as Record<string, unknown>;
}
