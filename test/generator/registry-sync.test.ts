/**
 * `registry-sync` against a real MLflow server (the venv's `mlflow server`, SQLite backend):
 * the registered model's aliases follow the version files, other aliases are left alone.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { desiredAliases } from "../../generator/src/registry.ts";
import { fixtureCopy, REPO_ROOT, runCli } from "../support/cli.ts";
import { groupAlive, spawnGroup, stopGroup } from "../support/process-group.ts";
import { freePort, until } from "../support/wait.ts";

const MLFLOW = join(REPO_ROOT, ".venv/bin/mlflow");

/**
 * fetch, once more on a dropped connection: each runCli blocks this process for seconds, and
 * MLflow's server closes the idle keep-alive connection the next fetch would reuse
 */
const fetchAgain = async (input: string, init?: RequestInit) => {
  try {
    return await fetch(input, init);
  } catch {
    return fetch(input, init);
  }
};

describe("desired aliases", () => {
  it("name each environment's live, canary and shadow version", () => {
    const plan = desiredAliases([
      { env: "dev", spec: { model: "wms", live: "1.1.0", canary: { version: "1.2.0", weight: 10 } } },
      { env: "prod", spec: { model: "wms", shadow: { version: "1.2.0" }, retain: ["1.0.0"] } },
    ]);
    expect(Object.fromEntries(plan.get("wms") ?? [])).toEqual({
      dev: "1.1.0",
      "dev-canary": "1.2.0",
      "prod-shadow": "1.2.0",
    });
  });
});

describe.skipIf(!existsSync(MLFLOW))("registry-sync against a real MLflow server", () => {
  let proc: ChildProcess;
  let url = "";
  let work = "";
  const api = async (method: string, path: string, body?: object) => {
    const res = await fetchAgain(`${url}/api/2.0/mlflow/${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${path}: ${JSON.stringify(json)}`);
    return json;
  };
  const aliases = async () => {
    const r = (await fetchAgain(`${url}/api/2.0/mlflow/registered-models/get?name=wms`).then((r) =>
      r.json(),
    )) as {
      registered_model: { aliases?: { alias: string; version: string }[] };
    };
    return Object.fromEntries((r.registered_model.aliases ?? []).map((a) => [a.alias, a.version]));
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "wms-mlflow-"));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // its own process group: mlflow server starts uvicorn, a job runner and huey consumers,
    // which stopGroup stops with it
    proc = spawnGroup(
      MLFLOW,
      [
        "server",
        ...["--backend-store-uri", `sqlite:///${join(work, "mlflow.db")}`],
        ...["--default-artifact-root", join(work, "artifacts")],
        ...["--host", "127.0.0.1", "--port", String(port), "--workers", "1"],
      ],
      { stdio: "ignore" },
    );
    await until("MLflow up", async () => ((await fetch(`${url}/health`)).ok ? true : undefined), 120_000);
    // three releases registered the way training does (a model version tagged wms.version),
    // one twice (the newest registration names it); an alias someone else set
    await api("POST", "registered-models/create", { name: "wms" });
    for (const v of ["1.0.0", "1.1.0", "1.2.0", "1.2.0"]) {
      const r = (await api("POST", "model-versions/create", {
        name: "wms",
        source: `s3://wms-models/wms/${v}/model.onnx`,
      })) as { model_version: { version: string } };
      await api("POST", "model-versions/set-tag", {
        name: "wms",
        version: r.model_version.version,
        key: "wms.version",
        value: v,
      });
    }
    await api("POST", "registered-models/alias", { name: "wms", alias: "champion", version: "1" });
    // a stale alias from a canary that is gone
    await api("POST", "registered-models/alias", { name: "wms", alias: "prod-canary", version: "1" });
  }, 150_000);

  afterAll(async () => {
    const pgid = proc?.pid;
    await stopGroup(proc);
    if (pgid !== undefined) expect(groupAlive(pgid), "MLflow's processes are all gone").toBe(false);
    if (work) rmSync(work, { recursive: true, force: true });
  }, 30_000);

  // four CLI runs, each a fresh Node process that starts in seconds on a loaded machine
  it("sets <env>, <env>-canary from the version files, removes stale ones, keeps others", {
    timeout: 180_000,
  }, async () => {
    const root = fixtureCopy("basic"); // dev: live 1.1.0, canary 1.2.0; prod: live 1.1.0
    const dry = runCli(["registry-sync", "--root", root, "--tracking-uri", url, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^wms\s+dev-canary\s+-\s+v4 \(1\.2\.0\)$/m);
    expect(dry.stdout).toMatch(/dry run: nothing changed/);
    expect(await aliases()).toEqual({ champion: "1", "prod-canary": "1" });

    const r = runCli(["registry-sync", "--root", root, "--tracking-uri", url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wms\s+prod-canary\s+v1\s+removed$/m);
    expect(await aliases()).toEqual({ champion: "1", dev: "2", "dev-canary": "4", prod: "2" });

    // promote the canary in dev: dev moves, dev-canary goes
    writeFileSync(join(root, "environments/dev/wms.yaml"), "model: wms\nlive: 1.2.0\nretain: [1.1.0]\n");
    const again = runCli(["registry-sync", "--root", root, "--tracking-uri", url]);
    expect(again.code, again.stderr).toBe(0);
    expect(await aliases()).toEqual({ champion: "1", dev: "4", prod: "2" });
    const idle = runCli(["registry-sync", "--root", root, "--tracking-uri", url]);
    expect(idle.stdout).toMatch(/aliases already match the version files/);
  });

  it("names a deployed version the registry lacks (exit 2) and still sets the others", async () => {
    const root = fixtureCopy("basic");
    writeFileSync(join(root, "environments/prod/wms.yaml"), "model: wms\nlive: 1.0.0\n");
    // 1.0.0's registration lost its tag: the registry cannot say which version it is
    await api("DELETE", "model-versions/delete-tag", { name: "wms", version: "1", key: "wms.version" });
    const r = runCli(["registry-sync", "--root", root, "--tracking-uri", url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /wms 1\.0\.0 is deployed but no model version of "wms" carries the tag wms\.version=1\.0\.0/,
    );
    // dev still set; prod's alias removed rather than left on the release prod no longer runs
    expect(await aliases()).toEqual({ champion: "1", dev: "2", "dev-canary": "4" });
  });

  it("says which MLflow did not answer (exit 5), and that none was given (exit 2)", () => {
    const r = runCli([
      "registry-sync",
      "--root",
      fixtureCopy("basic"),
      "--tracking-uri",
      "http://127.0.0.1:9",
    ]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Error: MLflow at http:\/\/127\.0\.0\.1:9: /);
    const none = runCli(["registry-sync", "--root", fixtureCopy("basic")], {
      env: { MLFLOW_TRACKING_URI: "" },
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--tracking-uri\] no MLflow server given/);
  });
});
