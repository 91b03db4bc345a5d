/**
 * Hostile input to the generator (issue 14, generator part): names from options never become
 * paths outside the repository, links inside rendered/ are never followed, and what an
 * interrupted render left behind is swept; input files are bounded in size and read only as
 * regular files inside the repository, alias bombs are input errors, store and model URIs
 * cannot name something other than what they read as, a file:// store works for an
 * environment, and rollback names what keeps the tree from being clean. Each case fails on
 * the code before the fix.
 */
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { MODEL_CARD_SCHEMA_PATH } from "../../generator/src/model-card.ts";
import { MAX_INPUT_BYTES } from "../../generator/src/repo-file.ts";
import { schemaPattern } from "../../generator/src/schema.ts";
import { releaseObjectUri } from "../../generator/src/store/uri.ts";
import { trainedModel } from "../store/helpers.ts";
import { fixtureCopy, runCli, snapshotTree } from "../support/cli.ts";

const SLOW = 60_000;
const cli = (root: string, ...args: string[]) => runCli([...args, "--root", root]);
/** A fixture copy with its rendered output. */
const rendered = () => {
  const root = fixtureCopy("basic");
  const r = cli(root, "render");
  if (r.code !== 0) throw new Error(r.stderr);
  return root;
};
const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe("names from options are checked before they become paths", { timeout: SLOW }, () => {
  const cases: [string, string[], RegExp][] = [
    [
      "--model ../evil",
      ["deploy", "--env", "dev", "--version", "1.1.0", "--model", "../evil"],
      /\[--model\] "\.\.\/evil" is not a model name/,
    ],
    [
      "--env ../x",
      ["deploy", "--env", "../x", "--version", "1.1.0"],
      /\[--env\] "\.\.\/x" is not an environment name/,
    ],
    ["--env on render", ["render", "--env", ".."], /\[--env\] "\.\." is not an environment name/],
    [
      "--version ../1",
      ["deploy", "--env", "dev", "--version", "../1.0.0"],
      /\[--version\] "\.\.\/1\.0\.0" is not a version/,
    ],
    [
      "--to with a slash",
      ["promote", "--from", "dev", "--to", "prod/../../x"],
      /\[--to\] .* is not an environment name/,
    ],
    [
      "--allow-empty ..",
      ["render", "--allow-empty", ".."],
      /\[--allow-empty\] "\.\." is not an environment name/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: exit 2, the option named, nothing written`, () => {
      const root = fixtureCopy("basic");
      const outside = mkdtempSync(join(tmpdir(), "wms-outside-"));
      const before = snapshotTree(root);
      const r = cli(root, ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      noStack(r.stderr);
      expect(snapshotTree(root)).toEqual(before);
      expect(readdirSync(outside)).toEqual([]);
    });
  }
});

describe("links inside rendered/ are refused, never followed", { timeout: SLOW }, () => {
  it("a link to a file outside the repository: exit 2 naming the link, its content never printed", () => {
    const root = rendered();
    const secret = join(mkdtempSync(join(tmpdir(), "wms-secret-")), "credentials");
    writeFileSync(secret, "aws_secret_access_key = DO-NOT-PRINT-ME\n");
    symlinkSync(secret, join(root, "environments/dev/rendered/wms-1.1.0/service.wms.yaml.leak"));
    for (const args of [["render", "--check"], ["render"]]) {
      const r = cli(root, ...args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/rendered\/wms-1\.1\.0\/service\.wms\.yaml\.leak is a symbolic link/);
      expect(r.stderr).toMatch(/fix: remove it/);
      expect(`${r.stdout}${r.stderr}`).not.toContain("DO-NOT-PRINT-ME");
      noStack(r.stderr);
    }
    // and render left the previous output (the link included) as it was
    expect(existsSync(join(root, "environments/dev/rendered/wms-1.1.0/deployment.wms.yaml"))).toBe(true);
  });

  it("a link to a directory: the same error, no EISDIR", () => {
    const root = rendered();
    symlinkSync(tmpdir(), join(root, "environments/dev/rendered/wms-1.1.0/extra"));
    const r = cli(root, "render", "--check");
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/rendered\/wms-1\.1\.0\/extra is a symbolic link/);
    expect(r.stderr).not.toMatch(/EISDIR/);
    noStack(r.stderr);
  });
});

describe("an interrupted render leaves nothing behind for long", { timeout: SLOW }, () => {
  it("the next render sweeps .rendered.tmp-* / .rendered.old-* of dead processes", () => {
    const root = fixtureCopy("basic");
    const env = join(root, "environments/dev");
    // a pid that is not running: a finished child's
    const dead = Number(execFileSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]));
    for (const d of [`.rendered.tmp-${dead}-1700000000000`, `.rendered.old-${dead}-1700000000001`]) {
      mkdirSync(join(env, d, "wms-1.1.0"), { recursive: true });
      writeFileSync(join(env, d, "wms-1.1.0/x.yaml"), "x: 1\n");
    }
    // one of a render still running (this process) stays
    const live = `.rendered.tmp-${process.pid}-1700000000002`;
    mkdirSync(join(env, live));
    const r = cli(root, "render");
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(env).filter((f) => f.startsWith(".rendered."))).toEqual([live]);
  });
});

const VERSION_FILE = "environments/dev/wms.yaml";
const ENV_FILE = "environments/dev/environment.yaml";
const CARD = "model/releases/wms/1.2.0/model-card.json";
const read = (root: string, rel: string) => readFileSync(join(root, rel), "utf8");
const write = (root: string, rel: string, text: string) => writeFileSync(join(root, rel), text);
const editCard = (root: string, fn: (c: { artifact: { uri: string } }) => void) => {
  const card = JSON.parse(read(root, CARD));
  fn(card);
  write(root, CARD, JSON.stringify(card, null, 2));
};
/** `cli` must exit 2 naming each of `expected`, without a stack trace. */
const refused = (r: { code: number; stderr: string }, ...expected: RegExp[]) => {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^Error: /);
  for (const re of expected) expect(r.stderr).toMatch(re);
  noStack(r.stderr);
};

describe("input files are bounded in size, checked before they are read", { timeout: SLOW }, () => {
  const pad = (bytes: number) => "  - 1.0.0\n".repeat(Math.ceil(bytes / 10));
  const cases: [string, string, (root: string) => void][] = [
    [
      "a version file with a runaway retain list",
      VERSION_FILE,
      (r) => write(r, VERSION_FILE, `model: wms\nlive: 1.1.0\nretain:\n${pad(MAX_INPUT_BYTES)}`),
    ],
    [
      "environment.yaml",
      ENV_FILE,
      (r) => write(r, ENV_FILE, `${read(r, ENV_FILE)}#${"x".repeat(MAX_INPUT_BYTES)}\n`),
    ],
    ["a model card", CARD, (r) => write(r, CARD, `${read(r, CARD)}${" ".repeat(MAX_INPUT_BYTES)}`)],
  ];
  for (const [name, file, apply] of cases) {
    it(`${name} over 1 MiB: exit 2 naming the file, the limit and the fix`, () => {
      const root = fixtureCopy("basic");
      apply(root);
      const r = cli(root, "render");
      refused(
        r,
        new RegExp(
          `${file.replaceAll(".", "\\.")} is \\d+ bytes, more than the 1 MiB \\(${MAX_INPUT_BYTES} bytes\\)`,
        ),
        /fix: version files, environment\.yaml and model cards are a few KiB/,
      );
    });
  }
});

describe("a YAML alias bomb is an input error naming the file and line", { timeout: SLOW }, () => {
  // "billion laughs": nine levels of nine aliases each, 9^9 strings once expanded
  const bomb = (head: string) => {
    const lines = [head, 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i <= 8; i++)
      lines.push(
        `l${i}: &l${i} [${Array(9)
          .fill(`*l${i - 1}`)
          .join(",")}]`,
      );
    return `${lines.join("\n")}\n`;
  };
  const cases: [string, string[], (root: string) => void, RegExp][] = [
    [
      "render, in a version file",
      ["render"],
      (r) => write(r, VERSION_FILE, bomb("model: wms\nlive: 1.1.0")),
      /environments\/dev\/wms\.yaml:4 YAML aliases: Excessive alias count/,
    ],
    [
      "deploy, in the version file it edits",
      ["deploy", "--env", "dev", "--version", "1.2.0"],
      (r) => write(r, VERSION_FILE, bomb("model: wms\nlive: 1.1.0")),
      /environments\/dev\/wms\.yaml:4 YAML aliases: Excessive alias count/,
    ],
    [
      "render, in environment.yaml",
      ["render"],
      (r) => write(r, ENV_FILE, bomb(read(r, ENV_FILE).trimEnd())),
      /environments\/dev\/environment\.yaml:\d+ YAML aliases: Excessive alias count/,
    ],
    [
      "render, in an admission policy",
      ["render"],
      (r) => {
        mkdirSync(join(r, "policies/bomb"), { recursive: true });
        write(r, "policies/bomb/policy.yaml", bomb("kind: ValidatingAdmissionPolicy"));
      },
      /policies\/bomb\/policy\.yaml:3 YAML aliases: Excessive alias count/,
    ],
  ];
  for (const [name, args, apply, message] of cases) {
    it(`${name}: exit 2, no stack trace`, () => {
      const root = fixtureCopy("basic");
      apply(root);
      refused(cli(root, ...args), message, /fix: write the values out/);
    });
  }
});

describe("store and model URIs name exactly what they read as", { timeout: SLOW }, () => {
  const storePattern = schemaPattern("environment.schema.json", [
    "properties",
    "modelStore",
    "properties",
    "uri",
  ]);
  const cardSchema = JSON.parse(readFileSync(MODEL_CARD_SCHEMA_PATH, "utf8"));
  const artifactPattern = new RegExp(cardSchema.properties.artifact.properties.uri.pattern, "u");

  it("the environment's store pattern and the card's artifact pattern agree", () => {
    const good = [
      "s3://wms-models",
      "s3://wms-models/releases/v2",
      "s3://wms.models-1/a..b/.hidden/...",
      "file:///srv/models",
      "file:///tmp/my%20store",
      "file:///C:/models",
    ];
    for (const root of good) {
      expect(storePattern.test(root), root).toBe(true);
      expect(artifactPattern.test(releaseObjectUri(root, "wms", "1.0.0")), root).toBe(true);
    }
    const bad = [
      "s3://wms-models/..",
      "s3://wms-models/../other",
      "s3://wms-models/./x",
      "s3://wms-models/%2e%2e/x",
      "s3://wms-models/.%2E",
      "s3://wms-models/a\\..\\b",
      "s3://wms-models/a\u0000b",
      "s3://wms-models/a\nb",
      "s3://wms-models/a\u007fb",
      "s3://wms-models//x",
      "s3://Not_A_Bucket/x",
      "file:///srv/../etc",
      "file:///srv/.",
      "file://host/dir",
      "http://example.com/models",
    ];
    expect(storePattern.test("file://")).toBe(false);
    for (const root of bad) {
      expect(storePattern.test(root), JSON.stringify(root)).toBe(false);
      expect(artifactPattern.test(`${root}/wms/1.0.0/model.onnx`), JSON.stringify(root)).toBe(false);
    }
  });

  const cases: [string, (root: string) => void, RegExp][] = [
    [
      "a card whose artifact.uri climbs out of the store with ..",
      (r) =>
        editCard(r, (c) => {
          c.artifact.uri = "s3://wms-models/wms/../../other-bucket/model.onnx";
        }),
      /model\/releases\/wms\/1\.2\.0\/model-card\.json \[artifact\.uri\] must match pattern/,
    ],
    [
      "a card with a . segment",
      (r) =>
        editCard(r, (c) => {
          c.artifact.uri = "s3://wms-models/wms/./1.2.0/model.onnx";
        }),
      /model-card\.json \[artifact\.uri\] must match pattern/,
    ],
    [
      "a card with backslashes",
      (r) =>
        editCard(r, (c) => {
          c.artifact.uri = "s3://wms-models/wms\\..\\x/model.onnx";
        }),
      /model-card\.json \[artifact\.uri\] must match pattern/,
    ],
    [
      "a card with a control character",
      (r) =>
        editCard(r, (c) => {
          c.artifact.uri = "s3://wms-models/wms/1.2.0\u001b[2J/model.onnx"; // a terminal escape
        }),
      /model-card\.json \[artifact\.uri\] must match pattern/,
    ],
    [
      "an environment store with a .. segment",
      (r) =>
        write(r, ENV_FILE, read(r, ENV_FILE).replace("uri: s3://wms-models", "uri: s3://wms-models/a/..")),
      /environments\/dev\/environment\.yaml:22 \[modelStore\.uri\] "s3:\/\/wms-models\/a\/\.\." is not valid here/,
    ],
  ];
  for (const [name, apply, message] of cases) {
    it(`${name}: exit 2 naming the field, nothing rendered`, () => {
      const root = fixtureCopy("basic");
      apply(root);
      refused(
        cli(root, "render"),
        message,
        /fix: use s3:\/\/<bucket>\/<prefix> or file:\/\/\/<absolute path>/,
      );
      expect(existsSync(join(root, "environments/dev/rendered"))).toBe(false);
    });
  }

  it("an environment may name a file:// store: publish, render and verify work against it", async () => {
    const root = fixtureCopy("basic");
    const storeUri = pathToFileURL(mkdtempSync(join(tmpdir(), "wms-store-"))).href;
    write(root, ENV_FILE, read(root, ENV_FILE).replace("uri: s3://wms-models", `uri: ${storeUri}`));
    const trained = await trainedModel(join(root, ".train"), { version: "1.3.0" });
    const p = cli(
      root,
      "publish",
      "--model",
      trained.modelPath,
      "--card",
      trained.cardPath,
      "--store",
      storeUri,
    );
    expect(p.code, p.stderr).toBe(0);
    const objectUri = `${storeUri}/wms/1.3.0/model.onnx`;
    expect(p.stdout).toContain(`→ ${objectUri}`);

    write(root, VERSION_FILE, "model: wms\nlive: 1.3.0\n");
    const r = cli(root, "render", "--env", "dev");
    expect(r.code, r.stderr).toBe(0);
    expect(read(root, "environments/dev/rendered/wms-1.3.0/deployment.wms.yaml")).toContain(objectUri);
    const v = cli(root, "verify", "--env", "dev");
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(
      /^dev\s+wms\s+1\.3\.0\s+fp32\s+sha256:\S+\s+file:\/\/\/\S+\/wms\/1\.3\.0\/model\.onnx\s+ok$/m,
    );
  });
});

describe("inputs are read only as regular files inside the repository", { timeout: SLOW }, () => {
  /** Move `rel` out of the repository and leave a link to it in its place. */
  const linkOut = (root: string, rel: string) => {
    const outside = join(mkdtempSync(join(tmpdir(), "wms-outside-")), "file");
    renameSync(join(root, rel), outside);
    symlinkSync(outside, join(root, rel));
  };
  const cases: [string, string[], (root: string) => void, RegExp][] = [
    [
      "a linked version file",
      ["render"],
      (r) => linkOut(r, VERSION_FILE),
      /environments\/dev\/wms\.yaml is a symbolic link/,
    ],
    [
      "a linked environment.yaml",
      ["render"],
      (r) => linkOut(r, ENV_FILE),
      /environments\/dev\/environment\.yaml is a symbolic link/,
    ],
    [
      "a linked model card",
      ["render"],
      (r) => linkOut(r, CARD),
      /model\/releases\/wms\/1\.2\.0\/model-card\.json is a symbolic link/,
    ],
    [
      "an environment folder that is a link (render does not list it; deploy names it)",
      ["deploy", "--env", "qa", "--version", "1.2.0"],
      (r) => {
        const outside = mkdtempSync(join(tmpdir(), "wms-outside-"));
        cpSync(join(r, "environments/dev"), outside, { recursive: true });
        symlinkSync(outside, join(r, "environments/qa"));
      },
      /environments\/qa\/wms\.yaml is reached through a symbolic link \(environments\/qa\)/,
    ],
    [
      "a folder named like a version file",
      ["render"],
      (r) => mkdirSync(join(r, "environments/dev/extra.yaml")),
      /environments\/dev\/extra\.yaml is not a regular file/,
    ],
  ];
  for (const [name, args, apply, message] of cases) {
    it(`${name}: exit 2 naming it, nothing rendered`, () => {
      const root = fixtureCopy("basic");
      apply(root);
      refused(cli(root, ...args), message);
      expect(existsSync(join(root, "environments/dev/rendered"))).toBe(false);
    });
  }
});

describe("rollback names the uncommitted changes in its way", { timeout: 300_000 }, () => {
  const gitEnv = {
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@e",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@e",
  };
  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...gitEnv } });
  /** Everything but .git (git status refreshes the index). */
  const worktree = (root: string) =>
    Object.fromEntries(Object.entries(snapshotTree(root)).filter(([p]) => !p.startsWith(".git/")));

  it("a dirty version file and an untracked file in rendered/: exit 2 naming both and the fix, nothing changed", () => {
    const root = rendered();
    git(root, "init", "-q", "-b", "main");
    git(root, "add", "-A");
    git(root, "commit", "-qm", "initial");
    const d = runCli(["deploy", "--env", "dev", "--version", "1.2.0", "--commit", "--root", root], {
      env: gitEnv,
    });
    expect(d.code, d.stderr).toBe(0);
    const head = git(root, "rev-parse", "HEAD");
    write(root, VERSION_FILE, `${read(root, VERSION_FILE)}# a note\n`);
    write(root, "environments/dev/rendered/wms-1.2.0/stray.yaml", "x: 1\n");
    const before = worktree(root);

    const r = runCli(["rollback", "--env", "dev", "--commit", "--root", root], { env: gitEnv });
    refused(
      r,
      /uncommitted changes: .*environments\/dev\/rendered\/wms-1\.2\.0\/stray\.yaml/,
      /uncommitted changes: .*environments\/dev\/wms\.yaml/,
      /fix: commit or stash them first \(git stash push -u -- environments\/dev\/wms\.yaml environments\/dev\/rendered\)/,
    );
    expect(worktree(root)).toEqual(before);
    expect(git(root, "rev-parse", "HEAD")).toBe(head);
  });
});
