/**
 * The serving contract (model/serving-contract.ts) is the one definition of the server's flags
 * and rules: what the generator renders parses back through it, the server's usage names every
 * flag it parses, and the server's defaults are the contract's.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULTS } from "../model/server/src/server.ts";
import {
  DEFAULT_SHADOW_SAMPLE,
  instancesFitThreads,
  minMemoryLimitBytes,
  PORTS,
  reserveBytes,
  SERVER_FLAGS,
  type ServerFlagValues,
  serverArgs,
  sessionCount,
} from "../model/serving-contract.ts";
import { REPO_ROOT } from "./support/cli.ts";

/** A rendered Deployment's args read back into values by the contract's flag table. */
function readArgs(args: string[]): Partial<ServerFlagValues> {
  const values: Record<string, string | number | boolean> = {};
  expect(args[0]).toBe("serve");
  for (let i = 1; i < args.length; i++) {
    const flag = SERVER_FLAGS.find((f) => `--${f.name}` === args[i]);
    if (!flag) throw new Error(`${args[i]} is not a flag of the serving contract`);
    if (flag.kind === "boolean") values[flag.key] = true;
    else {
      const raw = args[++i] as string;
      values[flag.key] = flag.kind === "string" || flag.kind === "url" ? raw : Number(raw);
    }
  }
  return values as Partial<ServerFlagValues>;
}

/** Every rendered Deployment's container args, committed and golden. */
function renderedArgs(): { file: string; args: string[] }[] {
  const roots = ["environments", "test/golden"];
  return roots.flatMap((root) =>
    readdirSync(join(REPO_ROOT, root), { recursive: true, encoding: "utf8" })
      .filter((f) => /(^|\/)deployment\.[^/]+\.yaml$/.test(f))
      .map((f) => {
        const d = parse(readFileSync(join(REPO_ROOT, root, f), "utf8"));
        return { file: `${root}/${f}`, args: d.spec.template.spec.containers[0].args as string[] };
      }),
  );
}

describe("the serving contract", () => {
  it("every rendered Deployment's args are the contract's flags, in its order (serverArgs of what they say)", () => {
    const all = renderedArgs();
    expect(all.length).toBeGreaterThan(3);
    for (const { file, args } of all) expect(serverArgs(readArgs(args)), file).toEqual(args);
    // (a shadow's --shadow and --shadow-sample: test/generator/shadow.test.ts renders one)
  });

  it("serverArgs leaves out what is not given and writes booleans bare", () => {
    expect(
      serverArgs({
        model: "m.onnx",
        threads: 2,
        instances: undefined,
        ortSpinning: true,
        noAccessLog: false,
      }),
    ).toEqual(["serve", "--model", "m.onnx", "--threads", "2", "--ort-spinning"]);
  });

  it("the server's usage names every flag it parses", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "model/server/src/cli.ts", "serve", "--help"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const missing = SERVER_FLAGS.filter((f) => !r.stdout.includes(`--${f.name}`)).map((f) => `--${f.name}`);
    expect(missing).toEqual([]);
  });

  it("the server's defaults are the contract's ports and shadow sample", () => {
    expect([DEFAULTS.port, DEFAULTS.metricsPort, DEFAULTS.shadowSample]).toEqual([
      PORTS.inference,
      PORTS.metrics,
      DEFAULT_SHADOW_SAMPLE,
    ]);
  });

  it("sessions, reserve and the thread rule", () => {
    expect([1, 2, 3].map(sessionCount)).toEqual([1, 3, 4]);
    expect(reserveBytes(3) - reserveBytes(1)).toBe(2 * (reserveBytes(2) - reserveBytes(1)));
    expect(minMemoryLimitBytes(1)).toBeGreaterThan(reserveBytes(1));
    expect([instancesFitThreads(2, 2), instancesFitThreads(3, 2)]).toEqual([true, false]);
  });
});
