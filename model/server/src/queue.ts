/**
 * Bounded admission plus dynamic batching in front of inference.
 *
 * A request takes a slot *before* its body is read, so that when the server is full the
 * answer (503 + Retry-After) costs no upload, decode or allocation and comes back at once.
 * Admitted requests decode and preprocess in parallel (libuv/libvips threads), then queue for
 * the single inference worker: ONNX Runtime already spreads one batch over all intra-op
 * threads, so two concurrent runs would only fight over the same cores.
 */
import { OverloadedError } from "./errors.ts";

export interface QueueOptions {
  /** requests that may wait (preprocessing or queued) while a batch runs */
  capacity: number;
  /** most items run as one batch (1 = no batching) */
  maxBatch: number;
  /** how long the first queued item may wait for companions before a partial batch runs */
  maxDelayMs: number;
}

export interface QueueObserver {
  depth?(waiting: number): void;
  batch?(size: number, seconds: number): void;
}

interface Pending<I, O> {
  item: I;
  queuedAt: number;
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
  /** queue the item for inference; resolves with its output */
  submit(item: I): Promise<Done<O>>;
  /** give the slot back (always, in a finally) */
  release(): void;
}

export class BatchQueue<I, O> {
  private admitted = 0;
  private running = 0;
  private readonly pending: Pending<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** moving average of one batch's duration, for Retry-After */
  private batchSeconds = 0.5;

  constructor(
    private readonly opts: QueueOptions,
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    private readonly observer: QueueObserver = {},
  ) {
    if (opts.capacity < 0 || opts.maxBatch < 1 || opts.maxDelayMs < 0) {
      throw new Error(`invalid queue options ${JSON.stringify(opts)}`);
    }
  }

  get limit(): number {
    return this.opts.capacity + this.opts.maxBatch;
  }

  /** admitted requests that are not (yet) being inferred */
  get depth(): number {
    return this.admitted - this.running;
  }

  /** Take a slot or fail fast with OverloadedError. */
  reserve(): Slot<I, O> {
    if (this.admitted >= this.limit) {
      // Everyone ahead needs about (admitted / maxBatch) batches.
      const wait = Math.ceil((this.admitted / this.opts.maxBatch) * this.batchSeconds);
      throw new OverloadedError(
        `server busy: ${this.admitted} requests admitted (limit ${this.limit})`,
        Math.max(1, wait),
      );
    }
    this.admitted++;
    this.report();
    let released = false;
    return {
      submit: (item) => this.enqueue(item),
      release: () => {
        if (released) return;
        released = true;
        this.admitted--;
        this.report();
      },
    };
  }

  private enqueue(item: I): Promise<Done<O>> {
    return new Promise<Done<O>>((resolve, reject) => {
      this.pending.push({ item, queuedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running > 0 || this.pending.length === 0) return;
    if (this.pending.length >= this.opts.maxBatch || this.opts.maxDelayMs === 0) {
      this.dispatch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.dispatch(), this.opts.maxDelayMs);
    }
  }

  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running > 0 || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.opts.maxBatch);
    this.running = batch.length;
    this.report();
    const started = performance.now();
    this.runBatch(batch.map((p) => p.item))
      .then(
        (outs) => {
          if (outs.length !== batch.length)
            throw new Error(`batch of ${batch.length} returned ${outs.length}`);
          const ranMs = performance.now() - started;
          batch.forEach((p, i) => {
            p.resolve({ value: outs[i] as O, waitedMs: started - p.queuedAt, ranMs });
          });
        },
        (err) => {
          for (const p of batch) p.reject(err);
        },
      )
      .catch((err) => {
        for (const p of batch) p.reject(err);
      })
      .finally(() => {
        const seconds = (performance.now() - started) / 1000;
        this.batchSeconds = 0.8 * this.batchSeconds + 0.2 * seconds;
        this.observer.batch?.(batch.length, seconds);
        this.running = 0;
        this.report();
        // Items that queued meanwhile have waited long enough: run them now.
        if (this.pending.length > 0) this.dispatch();
      });
  }

  private report(): void {
    this.observer.depth?.(this.depth);
  }
}
