/** The CLI as a real process: graceful shutdown on SIGTERM, `predict`, exit codes. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVER_NODE_FLAGS } from "../src/node-flags.ts";
import { jpegPhoto } from "./support/images.ts";
import { type ModelFiles, modelUnavailable, REPO_ROOT, untrainedModel } from "./support/model.ts";

// Skipped only where the Python venv is missing (vitest run outside `bash scripts/setup.sh`):
// the test model is exported by the training package. CI's setup creates the venv, so CI runs these.
const skip = modelUnavailable();
if (skip) console.warn(`SKIP process tests: ${skip}`);

const CLI = join(REPO_ROOT, "model/server/src/cli.ts");
// as the Dockerfile and `npm run serve` start it
const NODE_ARGS = [...SERVER_NODE_FLAGS, "--import", "tsx", CLI];
const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [...NODE_ARGS, ...args], { cwd: REPO_ROOT, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Start `serve` (or `npm run serve`), wait for the model to be ready, return the process and its URL. */
async function serve(
  args: string[],
  how: "node" | "npm" | "node without the V8 flags" = "node",
): Promise<{ proc: ChildProcess; url: string; log: () => string }> {
  // npm from PATH, with the Node running the tests first on it (as scripts/node.sh sets it)
  const [cmd, argv] =
    how === "node"
      ? [process.execPath, [...NODE_ARGS, "serve", ...args]]
      : how === "npm"
        ? ["npm", ["run", "--silent", "serve", "--", ...args]]
        : [process.execPath, ["--import", "tsx", CLI, "serve", ...args]];
  const proc = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` },
  });
  let log = "";
  proc.stderr?.on("data", (d) => {
    log += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in 60 s:\n${log}`)), 60_000);
    const check = () => {
      const listening = /"msg":"listening","url":"([^"]+)"/.exec(log);
      if (listening && log.includes('"msg":"model ready"')) {
        clearTimeout(timer);
        resolve(listening[1] as string);
      }
    };
    proc.stderr?.on("data", check);
    proc.once("exit", (code) => reject(new Error(`server exited ${code}:\n${log}`)));
  });
  return { proc, url, log: () => log };
}

describe.skipIf(skip !== null)("serve: graceful shutdown", () => {
  let files: ModelFiles;
  beforeAll(async () => {
    files = await untrainedModel();
  });

  it("on SIGTERM withdraws readiness, finishes in-flight requests and exits 0 well inside 30 s", async () => {
    const { proc, url, log } = await serve([
      "--model",
      files.model,
      "--port",
      "0",
      "--metrics-port",
      "0",
      "--host",
      "127.0.0.1",
      "--threads",
      "1",
      "--drain-ms",
      "1500",
    ]);
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    const photo = await jpegPhoto(200, 150);
    // Three requests: one runs, two wait in the queue when SIGTERM arrives.
    const inFlight = Array.from({ length: 3 }, () =>
      fetch(`${url}/predictions/wms`, { method: "POST", body: photo }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const termAt = performance.now();
    proc.kill("SIGTERM");
    // Readiness goes first, while the requests are still in flight and the port still open.
    let pingStatus = 0;
    for (let i = 0; i < 40 && pingStatus !== 503; i++) {
      await new Promise((r) => setTimeout(r, 25));
      pingStatus = (await fetch(`${url}/ping`)).status;
    }
    expect(pingStatus).toBe(503);
    expect(await Promise.all(inFlight)).toEqual([200, 200, 200]);
    expect(await exited).toBe(0);
    const seconds = (performance.now() - termAt) / 1000;
    expect(seconds).toBeLessThan(10);
    expect(log()).toContain('"msg":"stopped"');
    expect(log()).not.toContain("V8 flags");
    await expect(fetch(`${url}/ping`)).rejects.toThrow();
  });

  it("started without the server's V8 flags, serves all the same and says which flag is missing and how to start it", async () => {
    const { proc, url, log } = await serve(
      ["--model", files.model, "--port", "0", "--metrics-port", "0", "--host", "127.0.0.1", "--threads", "1"],
      "node without the V8 flags",
    );
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    try {
      expect((await fetch(`${url}/ping`)).status).toBe(200);
      const warn = log()
        .split("\n")
        .filter((l) => l.includes("V8 flags"))
        .map((l) => JSON.parse(l) as { level: string; missing: string[]; fix: string });
      expect(warn).toHaveLength(1);
      expect(warn[0]?.level).toBe("warn");
      expect(warn[0]?.missing).toEqual([...SERVER_NODE_FLAGS]);
      expect(warn[0]?.fix).toContain(`node ${SERVER_NODE_FLAGS.join(" ")}`);
    } finally {
      proc.kill("SIGTERM");
      await exited;
    }
  });

  it("`npm run serve` stops on SIGTERM: npm hands the signal to the server, nothing is left orphaned", async () => {
    const { proc, url, log } = await serve(
      ["--model", files.model, "--port", "0", "--metrics-port", "0", "--host", "127.0.0.1", "--threads", "1"],
      "npm",
    );
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    proc.kill("SIGTERM");
    await exited;
    // The server itself got the signal (it logs it) and its port closes within 10 s.
    let open = true;
    for (let i = 0; i < 100 && open; i++) {
      open = await fetch(`${url}/ping`).then(
        () => true,
        () => false,
      );
      if (open) await new Promise((r) => setTimeout(r, 100));
    }
    if (open) {
      // leave nothing behind on this machine when the test fails
      const pid = /"pid":(\d+)/.exec(log())?.[1];
      if (pid) process.kill(Number(pid), "SIGKILL");
    }
    expect(open).toBe(false);
    expect(log()).toContain('"msg":"SIGTERM received"');
    expect(log()).not.toContain("V8 flags"); // package.json's serve script carries them
  });
});

describe.skipIf(skip !== null)("predict command", () => {
  let files: ModelFiles;
  let dir: string;
  beforeAll(async () => {
    files = await untrainedModel();
    dir = await mkdtemp(join(tmpdir(), "wms-predict-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes <stem>.mask.png and <stem>.overlay.png at the displayed size", async () => {
    const photo = join(dir, "meter.jpg");
    await writeFile(photo, await jpegPhoto(90, 60, 6)); // displayed 60 x 90
    const r = await cli([
      "predict",
      photo,
      "--model",
      files.model,
      "--threads",
      "1",
      "--out",
      join(dir, "out"),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const line = JSON.parse(r.stdout.trim()) as { coverage: number; width: number; height: number };
    expect([line.width, line.height]).toEqual([60, 90]);
    const mask = await sharp(await readFile(join(dir, "out/meter.mask.png"))).metadata();
    const overlay = await sharp(await readFile(join(dir, "out/meter.overlay.png"))).metadata();
    expect([mask.width, mask.height, mask.channels]).toEqual([60, 90, 1]);
    expect([overlay.width, overlay.height, overlay.channels]).toEqual([60, 90, 3]);
  });

  it("exits 2 with usage on a missing flag and 1 on an unreadable photo", async () => {
    const usage = await cli(["serve"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^Error: --model is required\n/);
    const instances = await cli(["serve", "--model", files.model, "--threads", "2", "--instances", "3"]);
    expect(instances.code).toBe(2);
    expect(instances.stderr).toMatch(/^Error: --instances 3 needs a thread each: at most --threads \(2\)/);
    const gif = join(dir, "x.gif");
    await writeFile(
      gif,
      await sharp({ create: { width: 8, height: 8, channels: 3, background: "#fff" } })
        .gif()
        .toBuffer(),
    );
    const bad = await cli(["predict", gif, "--model", files.model]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: only PNG and JPEG are accepted \(the bytes look like GIF\)/);
  });
});

describe("the server's command line, like gen's", () => {
  it("serve --help and predict --help print the usage without --model, exit 0", async () => {
    for (const cmd of ["serve", "predict"]) {
      const r = await cli([cmd, "--help"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^usage:\n {2}cli\.ts serve --model/);
      expect(r.stderr).toBe("");
    }
  });

  it("a typo gets did-you-mean, exit 2: options and commands", async () => {
    const opt = await cli(["serve", "--prot", "8080"]);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/^Error: unknown option --prot; did you mean --port\?\n/);
    expect(opt.stderr).not.toContain("To specify a positional argument");
    const cmd = await cli(["serv", "--model", "x.onnx"]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/^Error: unknown command "serv"; did you mean serve\?\n/);
  });
});

describe.skipIf(skip !== null)("serve: where it listens and what it logs", () => {
  let files: ModelFiles;
  beforeAll(async () => {
    files = await untrainedModel();
  });

  it("listens on 127.0.0.1 unless --host is given, and logs one line per request", async () => {
    const { proc, url, log } = await serve([
      "--model",
      files.model,
      "--port",
      "0",
      "--metrics-port",
      "0",
      "--threads",
      "1",
    ]);
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    try {
      const listening = JSON.parse(
        log()
          .split("\n")
          .find((l) => l.includes('"msg":"listening"')) as string,
      );
      expect(listening.bound).toBe("127.0.0.1");
      expect(new URL(listening.url).hostname).toBe("127.0.0.1");
      expect(new URL(listening.metricsUrl).hostname).toBe("127.0.0.1");
      expect((await fetch(`${url}/ping`)).status).toBe(200);
      expect((await fetch(`${url}/nowhere?x=1`)).status).toBe(404);
      await new Promise((r) => setTimeout(r, 100));
      const lines = log()
        .split("\n")
        .filter((l) => l.includes('"msg":"request"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => [l.method, l.path, l.status])).toEqual([
        ["GET", "/ping", 200],
        ["GET", "/nowhere", 404],
      ]);
      expect(typeof lines[0]?.ms).toBe("number");
    } finally {
      proc.kill("SIGTERM");
      await exited;
    }
  });

  it("--no-access-log: no request lines", async () => {
    const { proc, url, log } = await serve([
      ...["--model", files.model, "--port", "0", "--metrics-port", "0", "--threads", "1", "--no-access-log"],
    ]);
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    try {
      expect((await fetch(`${url}/ping`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
      expect(log()).not.toContain('"msg":"request"');
    } finally {
      proc.kill("SIGTERM");
      await exited;
    }
  });
});
