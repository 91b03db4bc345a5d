/**
 * An ONNX Runtime session living in a worker thread (see ort-worker.mjs for why), with the
 * same small surface the lifecycle needs: create, run one float32 tensor, release. And the
 * server's sessions as a set: the options they are made with (createSessions) and the warm-up
 * that proves each one runs the card's tensors (warmUpSession).
 */
import { Worker } from "node:worker_threads";
import { errorMessage, ModelLoadError } from "../errors.ts";
import type { InferenceSpec } from "./card.ts";

export interface SessionOptions {
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionMode: "sequential" | "parallel";
  graphOptimizationLevel: "disabled" | "basic" | "extended" | "all";
  logSeverityLevel: 0 | 1 | 2 | 3 | 4;
  enableMemPattern?: boolean;
  extra?: Record<string, unknown>;
}

export interface RunResult {
  dims: number[];
  data: Float32Array;
}

type Reply = { id: number; ok: true; [k: string]: unknown } | { id: number; ok: false; message: string };

export class WorkerSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private dead: Error | undefined;
  private released = false;
  /** called once if the worker dies on its own (not after release()) */
  onDeath: ((err: Error) => void) | undefined;
  inputNames: readonly string[] = [];
  outputNames: readonly string[] = [];

  private constructor(private readonly worker: Worker) {
    worker.on("message", (r: Reply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      p?.resolve(r);
    });
    const fail = (err: Error) => {
      if (this.dead) return;
      this.dead = err;
      if (!this.released) this.onDeath?.(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`inference worker exited (code ${code})`)));
  }

  /** A copy of the model bytes is transferred to the worker; `bytes` stays usable (one per session). */
  static async create(bytes: Uint8Array, options: SessionOptions): Promise<WorkerSession> {
    const s = new WorkerSession(new Worker(new URL("./ort-worker.mjs", import.meta.url)));
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    try {
      const r = (await s.call({ type: "create", bytes: ab, options }, [ab as ArrayBuffer])) as {
        inputNames: string[];
        outputNames: string[];
      };
      s.inputNames = r.inputNames;
      s.outputNames = r.outputNames;
      return s;
    } catch (err) {
      await s.worker.terminate();
      throw err;
    }
  }

  /**
   * `data`'s buffer is transferred to the worker and comes back as `input`, so that it can be
   * reused; the output's buffer is ONNX Runtime's own, transferred here.
   */
  async run(
    inputName: string,
    outputName: string,
    data: Float32Array,
    dims: number[],
  ): Promise<RunResult & { input: Float32Array }> {
    const own =
      data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : new Float32Array(data);
    const r = (await this.call({ type: "run", inputName, outputName, data: own.buffer, dims }, [
      own.buffer as ArrayBuffer,
    ])) as { dims: number[]; data: ArrayBuffer; input: ArrayBuffer };
    return { dims: r.dims, data: new Float32Array(r.data), input: new Float32Array(r.input) };
  }

  async release(): Promise<void> {
    this.released = true;
    if (!this.dead) await this.call({ type: "release" }).catch(() => undefined);
    await this.worker.terminate();
  }

  /** Test hook: end the thread without a release, as a crash would. */
  async terminateForTest(): Promise<void> {
    await this.worker.terminate();
  }

  private call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Record<string, unknown>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (r) => (r.ok ? resolve(r) : reject(new Error(r.message))),
        reject,
      });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

/** The options of a session with `intraOpNumThreads` threads. */
export function sessionOptions(intraOpNumThreads: number, spinning: boolean): SessionOptions {
  return {
    // ORT's own default is every physical core of the host, which in a pod limited to 2 CPUs
    // on a 64-core node means 64 threads fighting over a 2-CPU quota. Set --threads to the
    // CPU limit; without it, the CPUs this process may run on.
    intraOpNumThreads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    // ORT's memory pattern plans one block for every activation of a run up front; without
    // it the arena still reuses freed chunks. On the 512x512 U-Net that costs far less memory
    // at the same run time (docs/benchmarks/server.md, "Reading it").
    enableMemPattern: false,
    // Idle intra-op threads spin by default, burning the cores that decode and encode need
    // (and a Kubernetes CPU quota); see docs/benchmarks/server.md for the A/B on 2 shared cores.
    extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" } } },
  };
}

/**
 * One session per entry of `threadsPerSession` (session-pool.ts's sessionThreads), each from
 * its own copy of `bytes`. If one cannot be created, those made so far are released and a
 * ModelLoadError says which (`source` names the file).
 */
export async function createSessions(
  bytes: Uint8Array,
  threadsPerSession: readonly number[],
  opts: { spinning: boolean; source: string },
): Promise<WorkerSession[]> {
  const sessions: WorkerSession[] = [];
  for (const n of threadsPerSession) {
    try {
      // each session gets its own copy of the bytes (WorkerSession.create copies them)
      sessions.push(await WorkerSession.create(bytes, sessionOptions(n, opts.spinning)));
    } catch (err) {
      // the first session proves the file loads: a later one failing is the process (memory)
      const what =
        sessions.length === 0
          ? "not a loadable ONNX model"
          : `session ${sessions.length + 1} of ${threadsPerSession.length} (--instances) could not be created`;
      await Promise.all(sessions.map((s) => s.release()));
      throw new ModelLoadError(`${opts.source}: ${what} (${errorMessage(err)})`, { cause: err });
    }
  }
  return sessions;
}

/** Run the largest batch once: allocates ORT's arenas and checks the output's shape, which it returns. */
export async function warmUpSession(
  session: WorkerSession,
  spec: InferenceSpec,
  maxBatch: number,
): Promise<{ width: number; height: number }> {
  const n = spec.fixedBatch ?? maxBatch;
  let dims: readonly number[];
  try {
    const data = new Float32Array(n * 3 * spec.height * spec.width);
    const outs = await session.run(spec.inputName, spec.outputName, data, [n, 3, spec.height, spec.width]);
    dims = outs.dims;
  } catch (err) {
    throw new ModelLoadError(`warm-up inference failed: ${errorMessage(err)}`, { cause: err });
  }
  const [bn, c, h, w] = dims;
  if (dims.length !== 4 || bn !== n || c !== 1 || !h || !w) {
    throw new ModelLoadError(`model output "${spec.outputName}" has shape [${dims}], expected [${n},1,H,W]`);
  }
  return { width: w, height: h };
}
