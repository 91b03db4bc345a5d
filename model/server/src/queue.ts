/**
 * Bounded admission plus dynamic batching in front of inference.
 *
 * Admission is checked *before* a body is read, so that when the server is full the answer
 * (503 + Retry-After) costs no upload, decode or allocation and comes back at once; the slot
 * is taken once the body has arrived, so a slow upload holds none (http/body.ts bounds it).
 * Of the admitted requests only `prefetch` at a time decode and preprocess (libuv/libvips
 * threads) ahead of inference; the rest wait their turn with nothing but their body in memory.
 * Decoding everything admitted at once would only hold more pixels and tensors at a time and
 * take CPU from the running inference, which cannot start the next item any sooner. Prepared
 * items then queue for inference. Up to `pipeline` batches are handed to `runBatch` at once:
 * with one session, which runs them one after the other, the next batch is already there when
 * a run ends, instead of waiting for this thread (busy with another request's resize, encoding
 * or a GC) to receive the result and send it; with several (model/session-pool.ts), they run
 * side by side. Each batch says whether it is `alone` (no other admitted request still waits
 * for inference), and `runBatch` says when it really `started`, for the queue/inference split.
 */
import { OverloadedError } from "./errors.ts";
import type { RunContext } from "./model/session-pool.ts";

export interface QueueOptions {
  /** requests that may wait (preprocessing or queued) while a batch runs */
  capacity: number;
  /** most items run as one batch (1 = no batching) */
  maxBatch: number;
  /** how long the first queued item may wait for companions before a partial batch runs */
  maxDelayMs: number;
  /** items prepared (or being prepared) ahead of inference; at least maxBatch (default 2 x maxBatch) */
  prefetch?: number;
  /** batches handed to `runBatch` at once (default 2) */
  pipeline?: number;
}

export interface QueueObserver {
  depth?(waiting: number): void;
  batch?(size: number, seconds: number): void;
}

interface Pending<I, O> {
  item: I;
  queuedAt: number;
  /** called when the item's batch is handed to the worker: its preparation turn passes on */
  started: () => void;
  resolve: (o: Done<O>) => void;
  reject: (e: unknown) => void;
}

/** An item's output, with how long it waited for the worker and how long its batch ran. */
export interface Done<O> {
  value: O;
  waitedMs: number;
  ranMs: number;
}

export interface Slot<I, O> {
  /**
   * Wait for a preparation turn (at most `prefetch` items are prepared ahead of inference),
   * then run `prepare`. The turn is held until the item submitted next is handed to the
   * inference worker, or until the slot is released. Resolves with the result and how long the turn took to come.
   */
  prepare<T>(prepare: () => Promise<T>): Promise<{ value: T; waitedMs: number }>;
  /** queue the item for inference; resolves with its output */
  submit(item: I): Promise<Done<O>>;
  /** give the slot back (always, in a finally) */
  release(): void;
}

export class BatchQueue<I, O> {
  private admitted = 0;
  /** admitted requests whose inference has not ended (admitted minus those in postprocessing) */
  private uninferred = 0;
  /** batches handed to `runBatch`, oldest first; startedAt is set when runBatch says it started */
  private readonly inFlight: { startedAt: number | undefined; size: number }[] = [];
  private readonly pending: Pending<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** preparation turns handed out and not yet passed on */
  private preparing = 0;
  private readonly turnWaiters: (() => void)[] = [];
  private readonly prefetch: number;
  private readonly pipeline: number;
  /** moving average of one batch's duration, for Retry-After */
  private batchSeconds = 0.5;

  constructor(
    private readonly opts: QueueOptions,
    private readonly runBatch: (items: I[], ctx: RunContext) => Promise<O[]>,
    private readonly observer: QueueObserver = {},
  ) {
    if (opts.capacity < 0 || opts.maxBatch < 1 || opts.maxDelayMs < 0) {
      throw new Error(`invalid queue options ${JSON.stringify(opts)}`);
    }
    this.pipeline = opts.pipeline ?? 2;
    if (!Number.isInteger(this.pipeline) || this.pipeline < 1) {
      throw new Error(`pipeline ${this.pipeline} must be an integer >= 1`);
    }
    this.prefetch = opts.prefetch ?? 2 * opts.maxBatch;
    if (!Number.isInteger(this.prefetch) || this.prefetch < opts.maxBatch) {
      throw new Error(`prefetch ${this.prefetch} must be an integer >= maxBatch (${opts.maxBatch})`);
    }
  }

  get limit(): number {
    return this.opts.capacity + this.opts.maxBatch;
  }

  /** admitted requests that are not (yet) being inferred */
  get depth(): number {
    // a batch handed over but waiting behind another in its session still waits
    let running = 0;
    for (const f of this.inFlight) if (f.startedAt !== undefined) running += f.size;
    return this.admitted - running;
  }

  /**
   * Fail fast with OverloadedError when no slot is free now, taking none: the HTTP layer asks
   * before it reads a body (a full server answers at once and costs no upload) and takes
   * the slot only once the body is in, so that slow uploads never hold slots.
   */
  checkAdmission(): void {
    if (this.admitted >= this.limit) {
      // Everyone ahead needs about (admitted / maxBatch) batches.
      const wait = Math.ceil((this.admitted / this.opts.maxBatch) * this.batchSeconds);
      throw new OverloadedError(
        `server busy: ${this.admitted} requests admitted (limit ${this.limit})`,
        Math.max(1, wait),
      );
    }
  }

  /** Take a slot or fail fast with OverloadedError. */
  reserve(): Slot<I, O> {
    this.checkAdmission();
    this.admitted++;
    this.uninferred++;
    this.report();
    let released = false;
    let inferred = false;
    const inferenceEnded = () => {
      if (inferred) return;
      inferred = true;
      this.uninferred--;
    };
    // this slot's preparation turn: "none" -> "waiting" -> "held" -> "none" (passed on)
    let turn: "none" | "waiting" | "held" = "none";
    const passTurn = () => {
      if (turn !== "held") return;
      turn = "none";
      this.passTurn();
    };
    return {
      prepare: async (prepare) => {
        const t0 = performance.now();
        if (turn === "none") {
          turn = "waiting";
          await this.takeTurn();
          if (released) {
            // released while waiting (cannot happen through predictImage, but never leak a turn)
            this.passTurn();
            turn = "none";
            throw new Error("slot released while waiting for its turn");
          }
          turn = "held";
        }
        const waitedMs = performance.now() - t0;
        try {
          return { value: await prepare(), waitedMs };
        } catch (err) {
          passTurn();
          throw err;
        }
      },
      submit: (item) => this.enqueue(item, passTurn).finally(inferenceEnded),
      release: () => {
        if (released) return;
        released = true;
        passTurn();
        inferenceEnded();
        this.admitted--;
        this.report();
      },
    };
  }

  private takeTurn(): Promise<void> {
    if (this.preparing < this.prefetch) {
      this.preparing++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.turnWaiters.push(resolve));
  }

  /** A turn ends: the next waiter (first come, first served) gets it, or it goes back. */
  private passTurn(): void {
    const next = this.turnWaiters.shift();
    if (next) next();
    else this.preparing--;
  }

  private enqueue(item: I, started: () => void): Promise<Done<O>> {
    return new Promise<Done<O>>((resolve, reject) => {
      this.pending.push({ item, queuedAt: performance.now(), started, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inFlight.length >= this.pipeline || this.pending.length === 0) return;
    if (this.pending.length >= this.opts.maxBatch || this.opts.maxDelayMs === 0) {
      this.dispatch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.dispatch(), this.opts.maxDelayMs);
    }
  }

  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight.length >= this.pipeline || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.opts.maxBatch);
    for (const p of batch) p.started();
    const flight: { startedAt: number | undefined; size: number } = {
      startedAt: undefined,
      size: batch.length,
    };
    this.inFlight.push(flight);
    const alone = this.uninferred === batch.length;
    const started = () => {
      if (flight.startedAt !== undefined || !this.inFlight.includes(flight)) return;
      flight.startedAt = performance.now();
      this.report();
    };
    this.report();
    const ended = () => {
      const now = performance.now();
      // a runner that never said it started (one that failed at once) ran for no time
      const startedAt = flight.startedAt ?? now;
      const i = this.inFlight.indexOf(flight);
      if (i >= 0) this.inFlight.splice(i, 1);
      return { startedAt, ranMs: now - startedAt };
    };
    let timing: { startedAt: number; ranMs: number } | undefined;
    this.runBatch(
      batch.map((p) => p.item),
      { alone, started },
    )
      .then(
        (outs) => {
          timing = ended();
          if (outs.length !== batch.length)
            throw new Error(`batch of ${batch.length} returned ${outs.length}`);
          const { startedAt, ranMs } = timing;
          batch.forEach((p, i) => {
            p.resolve({ value: outs[i] as O, waitedMs: startedAt - p.queuedAt, ranMs });
          });
        },
        (err) => {
          timing ??= ended();
          for (const p of batch) p.reject(err);
        },
      )
      .catch((err) => {
        for (const p of batch) p.reject(err);
      })
      .finally(() => {
        const seconds = (timing?.ranMs ?? 0) / 1000;
        this.batchSeconds = 0.8 * this.batchSeconds + 0.2 * seconds;
        this.observer.batch?.(batch.length, seconds);
        this.report();
        // Items that queued meanwhile have waited long enough: send them now.
        if (this.pending.length > 0) this.dispatch();
      });
  }

  private report(): void {
    this.observer.depth?.(this.depth);
  }
}
