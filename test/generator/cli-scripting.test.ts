/**
 * The CLI for scripts and for people at a terminal: `--output json|yaml` documents, tables that
 * fit the terminal, did-you-mean for environments, models and output formats, human messages for
 * malformed values, distinct exit codes, `--version`, `help <cmd>`, bash completion (loaded in a
 * real bash). Run as a user would (a process), on this repository or a fixture copy.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { fixtureCopy, REPO_ROOT, runCli } from "../support/cli.ts";

const fixture = fixtureCopy("basic");
const cli = (...args: string[]) => runCli([...args, "--root", fixture]);

describe("--output json|yaml", () => {
  it("versions: one document per the documented schema, the same in YAML", () => {
    const r = cli("versions", "--output", "json");
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.command).toBe("versions");
    expect(doc.schemaVersion).toBe(1);
    expect(doc.versions.length).toBeGreaterThan(1);
    for (const v of doc.versions) {
      expect(Object.keys(v).sort()).toEqual(
        [
          "bytes",
          "created",
          "example",
          "input",
          "int8TestIou",
          "local",
          "model",
          "runsIn",
          "sha256",
          "test",
          "val",
          "version",
        ].sort(),
      );
      expect(v.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    // where each version runs, from the version files
    const runs = doc.versions.flatMap((v: { version: string; runsIn: { env: string; role: string }[] }) =>
      v.runsIn.map((w) => `${w.env}:${w.role}:${v.version}`),
    );
    const table = cli("versions").stdout;
    for (const r of runs) {
      const [env, role, version] = r.split(":");
      expect(table).toMatch(
        new RegExp(`^wms\\s+${version.replaceAll(".", "\\.")}\\b.*\\b${env}:${role}\\b`, "m"),
      );
    }
    const yaml = cli("versions", "--output", "yaml");
    expect(parse(yaml.stdout)).toEqual(doc);
  });

  it("status: environments with live, canary, retained, last deploy, render state", () => {
    const r = runCli(["status", "--output", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.command).toBe("status");
    const dev = doc.environments.find((e: { env: string }) => e.env === "dev");
    expect(dev).toMatchObject({ model: "wms", rendered: "in-sync" });
    expect(dev.live).toMatch(/^\d+\.\d+\.\d+/);
    expect(Array.isArray(dev.retained)).toBe(true);
    expect(dev.lastDeploy.sha).toMatch(/^[0-9a-f]{7,}$/);
    // stdout is the document alone
    expect(r.stdout.trim().startsWith("{")).toBe(true);
  });

  it("check: the files and their verdicts; the closing sentence is left out of the document", () => {
    const r = runCli(["check", "--base", "HEAD", "--output", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ command: "check", base: "HEAD", problems: [] });
    expect(doc.files.map((f: { file: string }) => f.file)).toContain("environments/dev/wms.yaml");
    expect(doc.files.every((f: { check: string }) => f.check === "ok")).toBe(true);
  });

  it("an unknown format is refused with the nearest one", () => {
    const r = cli("status", "--output", "jsn");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[--output] "jsn" is not one of table, json, yaml; did you mean json?');
  });
});

describe("tables fit the terminal", () => {
  it("COLUMNS=70: every line fits, long cells end in …; without it the cells are whole", () => {
    const narrow = runCli(["status"], { env: { COLUMNS: "70" } });
    expect(narrow.code, narrow.stderr).toBe(0);
    const lines = narrow.stdout.trimEnd().split("\n");
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(70);
    expect(narrow.stdout).toContain("…");
    const whole = runCli(["status"]);
    expect(whole.stdout).not.toContain("…");
    expect(Math.max(...whole.stdout.split("\n").map((l) => l.length))).toBeGreaterThan(70);
  });
});

describe("did you mean", () => {
  it("--env prd: did you mean prod?, exit 2, nothing read", () => {
    const r = cli("deploy", "--env", "prd", "--version", "1.1.0");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: \[--env\] no environment "prd"; did you mean prod\?/);
    expect(r.stderr).toContain("one of: dev, prod;");
  });

  it("versions --model foo: an error naming the known models, exit 2", () => {
    const r = cli("versions", "--model", "wmz");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[--model] no model "wmz" in the release catalog; did you mean "wms"?');
    expect(r.stderr).toContain("one of: wms");
    expect(r.stdout).toBe("");
  });

  it("--version 1.0: a human message with an example, no regular expression", () => {
    const r = cli("deploy", "--env", "dev", "--version", "1.0");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"1.0" is not a version x.y.z');
    expect(r.stderr).toContain("e.g. --version 1.1.0");
    expect(r.stderr).not.toMatch(/[\\^$]|\(\?/);
  });
});

describe("the tool itself", () => {
  it("--version prints the repository's version", () => {
    const r = runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wms-gitops \d+\.\d+\.\d+\n$/);
  });

  it("help <cmd> is <cmd> --help; help with a typo suggests the command", () => {
    const a = runCli(["help", "deploy"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(runCli(["deploy", "--help"]).stdout);
    expect(a.stdout).toMatch(/^usage: deploy --env <name> --version <x\.y\.z>/);
    const typo = runCli(["help", "deplyo"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean "deploy"?');
    expect(runCli(["--help"]).stdout).toMatch(/^ {2}completion {2}/m);
  });

  it("an internal error exits 70, never 1 (1 is analyze's fail verdict alone)", () => {
    // a root that is a file: reading environments/ under it fails in a way no check foresaw
    const r = runCli(["status", "--root", join(REPO_ROOT, "package.json")]);
    expect(r.stderr).toMatch(/^Error: /);
    expect(r.code).toBe(70);
  });
});

describe("bash completion", () => {
  const script = runCli(["completion", "bash"], { env: { WMS_ROOT: fixture } });
  const file = join(fixture, "completion.bash");
  writeFileSync(file, script.stdout);
  /** COMPREPLY for a command line typed so far (the last word is being completed) */
  const complete = (line: string): string[] => {
    const words = line.split(" ");
    const r = spawnSync(
      "bash",
      [
        "--norc",
        "-c",
        `source '${file}'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _wms_gen; printf '%s\\n' "\${COMPREPLY[@]}"; complete -p gen`,
      ],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trimEnd().split("\n");
    expect(out.pop()).toBe("complete -F _wms_gen gen");
    return out.filter(Boolean);
  };

  it("is generated, loads in bash and completes commands, options, environments and formats", () => {
    expect(script.code, script.stderr).toBe(0);
    expect(complete("gen dep")).toEqual(["deploy"]);
    expect(complete("gen deploy --ca")).toEqual(["--canary"]);
    expect(complete("gen deploy --env pr")).toEqual(["prod"]);
    expect(complete("gen render --allow-empty ")).toEqual(["dev", "prod"]);
    expect(complete("gen status --output j")).toEqual(["json"]);
    expect(complete("gen help ver")).toEqual(["versions", "verify"]);
  });

  it("an unknown shell is refused", () => {
    const r = runCli(["completion", "fish"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("completion bash");
  });
});
