/**
 * The model's lifecycle, apart from HTTP: load (card -> bytes -> sha256: source.ts; sessions:
 * session.ts) -> warm up (session.ts, photo-warm-up.ts) -> ready -> draining. Until `ready`, nothing is served; a load failure leaves the host in
 * `failed` for good (the process stays up and says why, but never reports ready).
 */
import { availableParallelism } from "node:os";
import type { Precision } from "../../../model-card.ts";
import { errorMessage, InferenceError, ModelLoadError, NotReadyError } from "../errors.ts";
import { Float32Pool } from "./buffer-pool.ts";
import type { InferenceSpec, ModelCard } from "./card.ts";
import { warmUpPhotoPath } from "./photo-warm-up.ts";
import { createSessions, type WorkerSession, warmUpSession } from "./session.ts";
import { type PoolMode, type RunContext, SessionPool, sessionThreads } from "./session-pool.ts";
import { readVerified } from "./source.ts";

export type ModelState = "loading" | "ready" | "failed" | "draining";

export interface LoadOptions {
  /** path, file:// or s3:// URI of model.onnx */
  model: string;
  /** expected digest: one of the card's artifacts (fp32 or int8); without it, the file must be one of them */
  sha256?: string | undefined;
  /** path or URI of the card; defaults to model-card.json beside the model */
  card?: string | undefined;
  /** ONNX Runtime intra-op threads (0 = the CPUs this process may run on) */
  threads: number;
  /**
   * sessions that run side by side under load, threads / instances each (default 1: one
   * session only). With 2 or more, a lone request still runs on a session with all the
   * threads (session-pool.ts), so the model is held instances + 1 times.
   */
  instances?: number;
  /** largest batch the queue will send; warm-up runs it once so the first real one is not slow */
  maxBatch: number;
  /** let idle ORT threads spin (ORT's default; only worth it on dedicated cores) */
  spinning?: boolean;
}

export interface LoadedModel {
  card: ModelCard;
  spec: InferenceSpec;
  sha256: string;
  bytes: number;
  /** which of the card's artifacts this is */
  precision: Precision;
  /** spatial size of the output map (height, width), found at warm-up */
  outputSize: { width: number; height: number };
}

export class ModelHost {
  state: ModelState = "loading";
  failure: Error | undefined;
  /** the process can no longer serve at all (inference thread died): liveness fails too */
  broken = false;
  model: LoadedModel | undefined;
  /** every session (the wide one first), for warm-up, crash detection and release */
  private sessions: WorkerSession[] = [];
  private pool: SessionPool | undefined;
  /** input tensors of one image, reused across requests (see buffer-pool.ts) */
  private inputs: Float32Pool | undefined;
  private readonly listeners = new Set<(s: ModelState) => void>();
  private readonly batchListeners = new Set<(mode: PoolMode) => void>();

  get ready(): boolean {
    return this.state === "ready";
  }

  onStateChange(fn: (s: ModelState) => void): void {
    this.listeners.add(fn);
  }

  /** called with the session kind (wide, narrow) of every batch handed to a session */
  onBatchRun(fn: (mode: PoolMode) => void): void {
    this.batchListeners.add(fn);
  }

  private setState(s: ModelState): void {
    this.state = s;
    for (const fn of this.listeners) fn(s);
  }

  /**
   * The loaded model, or NotReadyError saying why there is none. While draining the model
   * still serves: readiness is withdrawn first so that traffic stops arriving, and requests
   * routed before that still get answers.
   */
  require(): LoadedModel {
    if (this.model && (this.state === "ready" || this.state === "draining")) return this.model;
    if (this.state === "failed") {
      throw new NotReadyError(`model ${this.broken ? "failed" : "failed to load"}: ${this.failure?.message}`);
    }
    throw new NotReadyError(this.state === "draining" ? "server is shutting down" : "model is loading");
  }

  async load(opts: LoadOptions): Promise<LoadedModel> {
    try {
      const model = await this.loadInner(opts);
      if (this.state === "loading") {
        this.model = model;
        this.setState("ready");
      }
      return model;
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      if (this.state === "loading") this.setState("failed");
      throw err;
    }
  }

  private async loadInner(opts: LoadOptions): Promise<LoadedModel> {
    const { card, spec, bytes, sha256, served, source } = await readVerified(opts);
    let perSession: number[];
    try {
      perSession = sessionThreads(opts.threads || availableParallelism(), opts.instances ?? 1);
    } catch (err) {
      throw new ModelLoadError(errorMessage(err), { cause: err });
    }
    // The sessions are built from the verified bytes, so what was verified is what runs.
    this.sessions = await createSessions(bytes, perSession, { spinning: opts.spinning ?? false, source });
    try {
      const [session, ...narrow] = this.sessions as [WorkerSession, ...WorkerSession[]];
      this.pool = new SessionPool(session, narrow, (mode) => {
        for (const fn of this.batchListeners) fn(mode);
      });
      // A dead inference thread cannot come back: stop reporting ready (and live), so that
      // Kubernetes routes around this pod and restarts it.
      for (const s of this.sessions) {
        s.onDeath = (err) => {
          this.failure = err;
          this.broken = true;
          this.setState("failed");
        };
      }
      if (!session.inputNames.includes(spec.inputName) || !session.outputNames.includes(spec.outputName)) {
        throw new ModelLoadError(
          `model has inputs [${session.inputNames}] and outputs [${session.outputNames}]; ` +
            `the card names input "${spec.inputName}" and output "${spec.outputName}"`,
        );
      }
      let outputSize = { width: 0, height: 0 };
      for (const s of this.sessions) outputSize = await warmUpSession(s, spec, opts.maxBatch);
      // enough for the items prepared ahead (2 x maxBatch by default) and the batches handed to
      // the sessions (two per session that runs under load)
      this.inputs = new Float32Pool(
        3 * spec.height * spec.width,
        (2 + 2 * Math.max(1, narrow.length)) * opts.maxBatch,
      );
      await warmUpPhotoPath(spec, outputSize, this.inputs);
      return { card, spec, sha256, bytes: bytes.length, precision: served.precision, outputSize };
    } catch (err) {
      // a pod whose model failed stays up (and not ready): it must not keep N+1 sessions' memory
      await this.close();
      throw err;
    }
  }

  private async runRaw(data: Float32Array, n: number, spec: InferenceSpec, ctx?: RunContext) {
    if (!this.pool) throw new Error("no session");
    return this.pool.run(spec.inputName, spec.outputName, data, [n, 3, spec.height, spec.width], ctx);
  }

  /** A buffer for one image's input tensor (3 x H x W); it comes back through infer(). */
  inputBuffer(): Float32Array | undefined {
    return this.inputs?.take();
  }

  /**
   * One batch of preprocessed images (each 3*H*W, CHW) -> one output map each.
   * A model with a fixed batch dimension gets its items one at a time. The items' buffers are
   * taken over: they come back to the pool that inputBuffer() draws from.
   */
  async infer(items: Float32Array[], ctx?: RunContext): Promise<Float32Array[]> {
    const { spec, outputSize } = this.require();
    const per = 3 * spec.height * spec.width;
    const outPer = outputSize.width * outputSize.height;
    try {
      if (spec.fixedBatch !== null && items.length !== spec.fixedBatch) {
        const outs: Float32Array[] = [];
        for (const item of items) outs.push(...(await this.infer([item], ctx)));
        return outs;
      }
      for (const x of items)
        if (x.length !== per) throw new Error(`input of ${x.length} values, expected ${per}`);
      const data = items.length === 1 ? (items[0] as Float32Array) : new Float32Array(per * items.length);
      if (items.length > 1) {
        items.forEach((x, i) => {
          data.set(x, i * per);
          this.inputs?.give(x);
        });
      }
      const t = await this.runRaw(data, items.length, spec, ctx);
      this.inputs?.give(t.input);
      if (items.length === 1) return [t.data];
      return items.map((_, i) => t.data.slice(i * outPer, (i + 1) * outPer));
    } catch (err) {
      throw new InferenceError(`inference failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Stop reporting ready (SIGTERM); requests already admitted still finish. */
  drain(): void {
    // A failed model stays failed: draining describes a server that was (or would be) serving.
    if (this.state === "ready" || this.state === "loading") this.setState("draining");
  }

  /** Test hook: end the inference thread as a crash would. */
  async killWorkerForTest(): Promise<void> {
    await this.sessions[0]?.terminateForTest();
  }

  async close(): Promise<void> {
    const all = this.sessions;
    this.sessions = [];
    this.pool = undefined;
    await Promise.all(all.map((s) => s.release()));
  }
}
