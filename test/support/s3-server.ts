/**
 * A real S3-compatible server (moto) on loopback for tests: a separate process speaking HTTP,
 * so the code under test runs the same SDK paths it runs against AWS.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const MOTO_SERVER = fileURLToPath(new URL("../../.venv/bin/moto_server", import.meta.url));
/** moto's server with its object PUTs made atomic, as S3's are (moto_server.py says why) */
const MOTO_LAUNCHER = fileURLToPath(new URL("./moto_server.py", import.meta.url));

export interface S3Server {
  /** e.g. http://127.0.0.1:41234 */
  endpoint: string;
  stop(): Promise<void>;
}

/** Any credentials work with moto; these keep the SDK from looking for real ones. */
export const TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

/** `binary` is for testing this helper itself; everyone else gets the venv's moto_server. */
export async function startS3Server(opts: { binary?: string } = {}): Promise<S3Server> {
  const binary = opts.binary ?? MOTO_SERVER;
  if (!existsSync(binary)) {
    throw new Error(
      `${binary} is missing: the S3 tests need moto's server. Run the setup first:\n` +
        "  python3 -m venv .venv && .venv/bin/pip install -r model/training/requirements.txt",
    );
  }
  // The free port can be taken between our probe and moto's bind; a retry covers that.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(binary, await freePort());
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function launch(binary: string, port: number): Promise<S3Server> {
  const endpoint = `http://127.0.0.1:${port}`;
  // the venv's python next to the moto_server it was asked for
  const python = join(dirname(binary), "python");
  const child = spawn(python, [MOTO_LAUNCHER, "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // moto logs every request; keep only the tail, for the error message if it dies.
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code, signal) =>
      reject(new Error(`moto_server exited (${signal ?? code}) before it was ready:\n${log}`)),
    ),
  );
  exited.catch(() => {}); // observed below; this stops an unhandled rejection after stop()

  try {
    await Promise.race([waitUntilAnswering(endpoint, 30_000), exited]);
  } catch (e) {
    process.removeListener("exit", killOnExit);
    await stopChild(child);
    throw e;
  }
  return {
    endpoint,
    async stop() {
      process.removeListener("exit", killOnExit);
      await stopChild(child);
    },
  };
}

async function waitUntilAnswering(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not answer at ${endpoint} within ${timeoutMs / 1000} s`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
