/**
 * The model's lifecycle, apart from HTTP: load (card -> bytes -> sha256 -> session) -> warm up
 * -> ready -> draining. Until `ready`, nothing is served; a load failure leaves the host in
 * `failed` for good (the process stays up and says why, but never reports ready).
 */
import { availableParallelism } from "node:os";
import sharp from "sharp";
import { artifactWithDigest, cardArtifacts, type Precision } from "../../../model-card.ts";
import { errorMessage, InferenceError, ModelLoadError, NotReadyError } from "../errors.ts";
import { Float32Pool } from "./buffer-pool.ts";
import { type InferenceSpec, inferenceSpec, type ModelCard, parseCard } from "./card.ts";
import { decodeForModel, decodeImage } from "./decode.ts";
import { encodeMaskPng, postprocess } from "./postprocess.ts";
import { preprocess } from "./preprocess.ts";
import { type SessionOptions, WorkerSession } from "./session.ts";
import { type PoolMode, type RunContext, SessionPool, sessionThreads } from "./session-pool.ts";
import { formatLocation, parseLocation, readArtifact, sha256Hex, siblingCard } from "./source.ts";

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

const SHA256 = /^[0-9a-f]{64}$/;

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
    const modelLoc = parseLocation(opts.model);
    const cardLoc = opts.card ? parseLocation(opts.card) : siblingCard(modelLoc);
    const cardSource = formatLocation(cardLoc);
    const card = parseCard((await readArtifact(cardLoc)).toString("utf8"), cardSource);
    const spec = inferenceSpec(card);

    const pinned = opts.sha256?.toLowerCase();
    if (pinned !== undefined && !SHA256.test(pinned)) {
      throw new ModelLoadError(`--sha256 must be 64 hex digits, got "${opts.sha256}"`);
    }
    const listed = () =>
      cardArtifacts(card)
        .map((a) => `${a.field}.sha256 ${a.artifact.sha256} (${a.precision})`)
        .join(", ");
    const pinnedArtifact = pinned ? artifactWithDigest(card, pinned) : undefined;
    if (pinned && !pinnedArtifact) {
      throw new ModelLoadError(
        `${cardSource} lists ${listed()}, not the pinned ${pinned}: wrong card for this model`,
      );
    }

    // The session is built from these very bytes, so what was verified is what runs.
    const bytes = await readArtifact(modelLoc);
    const size = bytes.length;
    const actual = sha256Hex(bytes);
    // Without a pin, the file is whichever artifact of the card it is (fp32 or int8).
    const served = pinnedArtifact ?? artifactWithDigest(card, actual);
    if (!served || actual !== served.artifact.sha256) {
      throw new ModelLoadError(
        `${formatLocation(modelLoc)}: sha256 ${actual} does not match ${pinned ? `the pinned ${pinned}` : `the card: it lists ${listed()}`}`,
      );
    }
    if (bytes.length !== served.artifact.bytes) {
      throw new ModelLoadError(
        `${formatLocation(modelLoc)}: ${bytes.length} bytes, the card's ${served.field}.bytes says ${served.artifact.bytes}`,
      );
    }

    let perSession: number[];
    try {
      perSession = sessionThreads(opts.threads || availableParallelism(), opts.instances ?? 1);
    } catch (err) {
      throw new ModelLoadError(errorMessage(err), { cause: err });
    }
    const options = (intraOpNumThreads: number): SessionOptions => ({
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
      extra: { session: { intra_op: { allow_spinning: opts.spinning ? "1" : "0" } } },
    });
    for (const n of perSession) {
      try {
        // each session gets its own copy of the bytes (WorkerSession.create copies them)
        this.sessions.push(await WorkerSession.create(bytes, options(n)));
      } catch (err) {
        // the first session proves the file loads: a later one failing is the process (memory)
        const what =
          this.sessions.length === 0
            ? "not a loadable ONNX model"
            : `session ${this.sessions.length + 1} of ${perSession.length} (--instances) could not be created`;
        await this.close();
        throw new ModelLoadError(`${formatLocation(modelLoc)}: ${what} (${errorMessage(err)})`, {
          cause: err,
        });
      }
    }
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
      for (const s of this.sessions) outputSize = await this.warmUp(s, spec, opts.maxBatch);
      // enough for the items prepared ahead (2 x maxBatch by default) and the batches handed to
      // the sessions (two per session that runs under load)
      this.inputs = new Float32Pool(
        3 * spec.height * spec.width,
        (2 + 2 * Math.max(1, narrow.length)) * opts.maxBatch,
      );
      await this.warmUpPhotoPath(spec, outputSize);
      return { card, spec, sha256: actual, bytes: size, precision: served.precision, outputSize };
    } catch (err) {
      // a pod whose model failed stays up (and not ready): it must not keep N+1 sessions' memory
      await this.close();
      throw err;
    }
  }

  /** Run the largest batch once: allocates ORT's arenas and checks the output's shape. */
  private async warmUp(
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
      throw new ModelLoadError(
        `model output "${spec.outputName}" has shape [${dims}], expected [${n},1,H,W]`,
      );
    }
    return { width: w, height: h };
  }

  /**
   * Run the per-photo work around inference (decode, preprocess, postprocess, PNG) a few times
   * on a synthetic phone-sized photo, so that V8 has compiled its loops and the WebAssembly
   * resize with its optimising tiers before the first request. Without it the first two
   * requests paid more in preprocessing and postprocessing (docs/benchmarks/server.md,
   * "Shortening the c=1 path").
   */
  private async warmUpPhotoPath(spec: InferenceSpec, map: { width: number; height: number }): Promise<void> {
    const [width, height] = [1000, 1333];
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7) % 251;
    // a disc of logits (or probabilities) crossing the threshold, as a trained model's map does
    const logits = new Float32Array(map.width * map.height);
    const r = Math.min(map.width, map.height) / 4;
    for (let y = 0; y < map.height; y++)
      for (let x = 0; x < map.width; x++) {
        const d = Math.hypot(x - map.width / 2, y - map.height / 2) / r;
        logits[y * map.width + x] = spec.activation === "sigmoid" ? 6 * (1 - d) : 1 - d / 2;
      }
    try {
      const jpeg = await sharp(rgb, { raw: { width, height, channels: 3 } })
        .jpeg()
        .toBuffer();
      for (let round = 0; round < 3; round++) {
        const decoded = await decodeImage(jpeg, spec, { maxPixels: width * height });
        const input = this.inputBuffer();
        this.inputs?.give(await preprocess(decoded, spec, input));
        const mask = postprocess(logits, { ...spec, width: map.width, height: map.height }, decoded);
        await encodeMaskPng(mask);
        // and the default decode, at the model's scale (decode.ts)
        const fast = await decodeForModel(jpeg, spec, { maxPixels: width * height });
        this.inputs?.give(await preprocess(fast.decoded, spec, this.inputBuffer()));
      }
    } catch (err) {
      throw new ModelLoadError(`warm-up of the photo path failed: ${errorMessage(err)}`, { cause: err });
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
