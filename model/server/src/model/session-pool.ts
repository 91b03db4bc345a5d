/**
 * Which ONNX Runtime session runs the next batch, when the server has more than one.
 *
 * Why more than one: on 2 cores two sessions of 1 thread each, side by side, finish two photos
 * in less time than one session with 2 intra-op threads runs them one after the other
 * (docs/benchmarks/server.md, "Sessions side by side"). ORT splits every convolution of a few
 * channels across the threads and waits for them after each one, so a second thread buys less
 * than a second request on its own core does. A lone request, though, is slower on a 1-thread
 * session than on the wide one. So the pool keeps both kinds (Triton's
 * "instance group" with a fast path for one request):
 *
 *   wide     one session with all the threads: used when a batch is alone (no other request
 *            admitted and not yet inferred), which is every batch at concurrency 1
 *   narrow   `instances` sessions of threads / instances each: used while requests keep coming
 *
 * Never both at once (that would put more threads than cores to work): the mode changes only
 * when every session is idle. In narrow mode each session gets up to two batches at a time, as
 * the single session does without narrow ones, so that the next one is already in its thread
 * when a run ends; a wide session with narrow ones beside it gets one, so that the pool drains
 * and can turn to narrow when load arrives.
 */

export interface RunTensors {
  dims: number[];
  data: Float32Array;
  input: Float32Array;
}

/** What a session must offer the pool (WorkerSession does). */
export interface PoolSession {
  run(inputName: string, outputName: string, data: Float32Array, dims: number[]): Promise<RunTensors>;
}

export interface RunContext {
  /** no other admitted request is waiting for inference: the wide session may take it */
  alone: boolean;
  /** called when the batch starts running (it may first wait behind another in its session) */
  started: () => void;
}

interface Lane {
  session: PoolSession;
  /** batches handed to the session and not yet answered */
  outstanding: number;
  /** settles when the last batch handed to this session has been answered */
  tail: Promise<void>;
}

interface Waiting {
  args: [string, string, Float32Array, number[]];
  ctx: RunContext;
  resolve: (r: RunTensors) => void;
  reject: (e: unknown) => void;
}

export type PoolMode = "wide" | "narrow";

/**
 * Intra-op threads per session for `threads` and `instances`: the wide session first, with all
 * of them, then (with 2 or more instances) the narrow ones, threads / instances each and the
 * remainder spread over the first ones (3 threads as 2 + 1), so that under load every thread has
 * a session.
 */
export function sessionThreads(threads: number, instances: number): number[] {
  if (!Number.isInteger(threads) || !Number.isInteger(instances) || instances < 1 || instances > threads) {
    throw new RangeError(
      `instances ${instances} must be an integer from 1 to the ${threads} threads (each needs one)`,
    );
  }
  if (instances === 1) return [threads];
  const narrow = Array.from(
    { length: instances },
    (_, i) => Math.floor(threads / instances) + (i < threads % instances ? 1 : 0),
  );
  return [threads, ...narrow];
}

const lane = (session: PoolSession): Lane => ({ session, outstanding: 0, tail: Promise.resolve() });

export class SessionPool {
  private readonly wide: Lane;
  private readonly narrow: Lane[];
  private readonly waiting: Waiting[] = [];
  mode: PoolMode = "wide";
  /** batches run per mode, for the tests and /metrics */
  readonly runs: Record<PoolMode, number> = { wide: 0, narrow: 0 };

  constructor(
    wide: PoolSession,
    narrow: readonly PoolSession[] = [],
    /** told the mode of every batch handed to a session (/metrics counts them) */
    private readonly onRun: (mode: PoolMode) => void = () => undefined,
  ) {
    this.wide = lane(wide);
    this.narrow = narrow.map(lane);
  }

  run(
    inputName: string,
    outputName: string,
    data: Float32Array,
    dims: number[],
    ctx: RunContext = { alone: true, started: () => undefined },
  ): Promise<RunTensors> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ args: [inputName, outputName, data, dims], ctx, resolve, reject });
      this.pump();
    });
  }

  private idle(): boolean {
    return this.wide.outstanding === 0 && this.narrow.every((l) => l.outstanding === 0);
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const head = this.waiting[0] as Waiting;
      if (this.idle() && this.narrow.length > 0) {
        this.mode = this.waiting.length === 1 && head.ctx.alone ? "wide" : "narrow";
      }
      let target: Lane | undefined;
      if (this.mode === "wide") {
        const depth = this.narrow.length === 0 ? 2 : 1;
        if (this.wide.outstanding < depth) target = this.wide;
      } else {
        const least = this.narrow.reduce((a, b) => (b.outstanding < a.outstanding ? b : a));
        if (least.outstanding < 2) target = least;
      }
      if (!target) return;
      this.waiting.shift();
      this.post(target, head);
    }
  }

  private post(target: Lane, w: Waiting): void {
    this.runs[this.mode]++;
    target.outstanding++;
    // The session runs its batches in order: this one starts when the one before it is answered.
    void target.tail.then(() => w.ctx.started());
    // Whatever throws here (a listener, a session that throws instead of rejecting) fails this
    // batch only: the lane's count still comes back down and the next batch is pumped.
    const mode = this.mode;
    const done = Promise.resolve()
      .then(() => {
        this.onRun(mode);
        return target.session.run(...w.args);
      })
      .then(
        (r) => w.resolve(r),
        (e: unknown) => w.reject(e),
      );
    target.tail = done.finally(() => {
      target.outstanding--;
      this.pump();
    });
  }
}
