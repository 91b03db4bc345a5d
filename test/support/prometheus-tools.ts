/**
 * The one place that resolves the Prometheus tools the tests run: promtool and prometheus of
 * the release kube-prometheus-stack deploys, built by scripts/setup-prometheus.sh into
 * .tools/bin. No fallback to whatever is on PATH (Debian's is Prometheus 2): a missing or
 * different binary is a clear error.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { schemaIndex } from "../../generator/src/validate/index.ts";
import { REPO_ROOT } from "./cli.ts";

export type PrometheusTool = "promtool" | "prometheus";

/** The Prometheus version the tools must be (recorded by generator/tools/k8s-schemas/vendor.ts). */
export function wantedPrometheus(): string {
  const p = schemaIndex().prometheus;
  if (!p)
    throw new Error(
      "generator/schemas/k8s/index.json records no Prometheus: pin kube-prometheus-stack in apps/",
    );
  return p.version;
}

/** Absolute path of the tool, checked to be the wanted version. */
export function prometheusTool(name: PrometheusTool): string {
  const path = join(REPO_ROOT, ".tools/bin", name);
  const wanted = wantedPrometheus();
  const fix = "run `bash scripts/setup-prometheus.sh` (builds it from github.com/prometheus/prometheus)";
  if (!existsSync(path)) throw new Error(`${name} not found at ${path}: ${fix}`);
  const r = spawnSync(path, ["--version"], { encoding: "utf8" });
  const first = `${r.stdout}${r.stderr}`.split("\n")[0] ?? "";
  if (!first.includes(`version ${wanted.replace(/^v/, "")} `)) {
    throw new Error(`${path} is "${first}", not Prometheus ${wanted}: ${fix}`);
  }
  return path;
}
