/**
 * The README's first command on a fresh clone, with no variable set: `npm ci && npm run render`.
 * onnxruntime-node's install script (it would download GPU binaries) must not run, because of
 * package.json's allowScripts alone, and npm must print no config warning; nothing may be
 * downloaded at test time, so npm installs from its cache (`--offline`, filled by
 * scripts/setup.sh's `npm ci`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "wms-fresh-clone-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const npm = execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim();
// only what a new user has: HOME (npm's cache) and PATH (this Node first, then npm and the system)
const env = {
  HOME: process.env.HOME ?? "",
  PATH: [dirname(process.execPath), dirname(npm), "/usr/bin", "/bin"].join(":"),
};

describe("a fresh clone", () => {
  it("npm ci with no variables, then npm run render -- --check: both succeed, output unchanged", () => {
    const clone = join(dir, "repo");
    execFileSync("git", ["clone", "-q", "--no-local", "--depth", "1", `file://${REPO_ROOT}`, clone], { env });
    const ci = spawnSync(npm, ["ci", "--offline", "--no-audit", "--no-fund", "--foreground-scripts"], {
      cwd: clone,
      env,
      encoding: "utf8",
    });
    expect(ci.status, ci.stderr).toBe(0);
    // esbuild's postinstall ran (scripts do run), onnxruntime-node's did not, nothing was fetched
    const log = `${ci.stdout}${ci.stderr}`;
    expect(log).toMatch(/> esbuild@[\d.]+ postinstall/);
    expect(log).not.toMatch(/onnxruntime-node@[\d.]+ postinstall/);
    expect(log).not.toMatch(/Downloading|nuget/i);
    expect(log).not.toMatch(/Unknown project config|not yet covered by allowScripts/);
    expect(
      existsSync(join(clone, "node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node")),
    ).toBe(true);
    expect(
      existsSync(
        join(clone, "node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so"),
      ),
    ).toBe(false);
    const render = spawnSync(npm, ["run", "render", "--", "--check"], { cwd: clone, env, encoding: "utf8" });
    expect(render.status, render.stderr).toBe(0);
    expect(render.stdout).toMatch(/^ENV\s+MODEL\s+LIVE/m);
    expect(render.stdout).toContain("render --check: committed output is up to date.");
  }, 600_000);
});
