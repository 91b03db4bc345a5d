/**
 * An ONNX Runtime session living in a worker thread (see ort-worker.mjs for why), with the
 * same small surface the lifecycle needs: create, run one float32 tensor, release.
 */
import { Worker } from "node:worker_threads";

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
