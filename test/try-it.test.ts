/**
 * The README's no-cluster try-it ("Then try a deploy and a photo"), run as written in a fresh
 * clone of HEAD: deploy a canary, see the diff, undo it, serve a photo with curl, predict one. The one
 * change: the server gets `--port 0 --metrics-port 0` (the machine may already use 8080), and
 * curl the port it printed. The photo is made up (the dataset is not in the repository).
 */
import { type ChildProcess, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jpegPhoto } from "../model/server/test/support/images.ts";
import { REPO_ROOT } from "./support/cli.ts";
import { spawnGroup, stopGroup } from "./support/process-group.ts";

const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

/** The try-it block's commands, comments left out. */
function tryIt(): string[] {
  const start = readme.indexOf("### Then try a deploy and a photo");
  if (start < 0) throw new Error('README has no section "Then try a deploy and a photo"');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))?.[1] ?? "";
  return block
    .split("\n")
    .map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter(Boolean);
}

const npm = execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim();
const env = {
  HOME: process.env.HOME ?? "",
  PATH: [dirname(process.execPath), dirname(npm), "/usr/bin", "/bin"].join(":"),
  NO_COLOR: "1",
};

const dir = mkdtempSync(join(tmpdir(), "wms-try-it-"));
const clone = join(dir, "repo");
let server: ChildProcess | undefined;
let serving: Promise<string>;
const steps = tryIt();

beforeAll(() => {
  // HEAD's tree; --shared borrows this repository's objects instead of copying them
  execFileSync("git", ["clone", "-q", "--shared", REPO_ROOT, clone]);
  // the clone shares this checkout's installed packages (test/fresh-clone.test.ts runs npm ci)
  symlinkSync(join(REPO_ROOT, "node_modules"), join(clone, "node_modules"));
  writeFileSync(join(clone, ".git/info/exclude"), "node_modules\nphoto*.png\nphoto.jpg\nmask.png\n");
  const serve = steps[3] ?? "";
  serving = serve.startsWith("npm run serve -- ")
    ? startServe(serve)
    : Promise.reject(new Error(`the README's fourth try-it line is not npm run serve: ${serve}`));
  serving.catch(() => {}); // awaited (and reported) by the serve test
}, 60_000);

afterAll(async () => {
  await stopGroup(server);
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The README's serve line, started at once (its model loads while the deploy steps run); resolves
 * to its URL once it listens and its model is ready.
 */
function startServe(line: string): Promise<string> {
  server = spawnGroup("sh", ["-c", `${line} --port 0 --metrics-port 0`], {
    cwd: clone,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  // the server listens at once and answers a photo once its model is ready: wait for both lines
  let log = "";
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening and ready in 90 s:\n${log}`)), 90_000);
    let listening: string | undefined;
    let ready = false;
    server?.stderr?.on("data", (b: Buffer) => {
      log += b.toString();
      // whole lines only (the last may still be arriving); npm's own lines are not JSON
      for (const line of log
        .split("\n")
        .slice(0, -1)
        .filter((l) => l.startsWith("{"))) {
        const entry = JSON.parse(line) as { msg?: string; url?: string; state?: string };
        if (entry.msg === "listening") listening = entry.url;
        if (entry.msg === "model state" && entry.state === "ready") ready = true;
      }
      if (listening && ready) {
        clearTimeout(timer);
        resolve(listening);
      }
    });
    server?.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}:\n${log}`));
    });
  });
}

/** One README line in the clone's shell, as a user types it. */
function sh(line: string) {
  const r = spawnSync("sh", ["-c", line], { cwd: clone, env, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

describe("the README's try-it, in a fresh clone", () => {
  it("is six commands: deploy a canary, diff, undo, serve, curl a photo, predict", () => {
    expect(steps.map((s) => s.split(" ").slice(0, 4).join(" "))).toEqual([
      "npm run gen --",
      "git diff --stat",
      "git checkout -- environments",
      "npm run serve --",
      "curl -T photo.jpg http://127.0.0.1:8080/predictions/wms",
      "npm run predict --",
    ]);
  });

  it("deploy --canary edits dev's version file and renders; git diff shows both; checkout undoes all", () => {
    const [deploy, diff, undo] = steps as [string, string, string];
    const d = sh(deploy);
    expect(d.code, d.out).toBe(0);
    expect(readFileSync(join(clone, "environments/dev/wms.yaml"), "utf8")).toMatch(
      /^canary: \{ version: 1\.0\.0, weight: 10 \}/m,
    );
    const stat = sh(diff);
    expect(stat.code, stat.out).toBe(0);
    expect(stat.stdout).toContain("environments/dev/wms.yaml");
    expect(stat.stdout).toContain("environments/dev/rendered/");
    expect(sh(undo).code).toBe(0);
    // nothing left over: no changed file, and no new one the diff did not show
    expect(sh("git status --porcelain").stdout).toBe("");
  }, 60_000);

  it("serve answers curl's photo with a mask; predict writes the mask and the overlay", async () => {
    const [, , , , curl, predict] = steps as [string, string, string, string, string, string];
    writeFileSync(join(clone, "photo.jpg"), await jpegPhoto(640, 480));
    const url = await serving;
    const c = sh(curl.replace("http://127.0.0.1:8080", url).replace(/^curl /, "curl -sS --fail "));
    expect(c.code, c.out).toBe(0);
    const mask = await sharp(join(clone, "mask.png")).metadata();
    expect([mask.format, mask.width, mask.height]).toEqual(["png", 640, 480]);
    await stopGroup(server);

    const p = sh(predict);
    expect(p.code, p.out).toBe(0);
    for (const out of ["photo.mask.png", "photo.overlay.png"]) {
      const meta = await sharp(join(clone, out)).metadata();
      expect([out, meta.format, meta.width, meta.height]).toEqual([out, "png", 640, 480]);
    }
  }, 120_000);
});
