/**
 * A few Float32Arrays of one length, handed out again instead of allocated per photo.
 *
 * An input tensor (3 MiB at 512x512) is memory outside V8's heap; allocated per request, it
 * is freed only when a garbage collection finds it dead, so dead tensors pile up between
 * collections (tens of MiB: V8 collects the young generation for external memory only past a
 * fixed amount) and more collections run. The tensor travels to the inference thread and back
 * (transferred, not copied) and returns here for the next photo.
 */
export class Float32Pool {
  private readonly free: Float32Array[] = [];

  constructor(
    readonly length: number,
    /** most buffers kept; more are allocated when needed and left to the GC */
    private readonly keep: number,
  ) {}

  take(): Float32Array {
    return this.free.pop() ?? new Float32Array(this.length);
  }

  /** Give a buffer back; only a whole, attached buffer of the pool's length is kept. */
  give(a: Float32Array | undefined): void {
    if (!a || this.free.length >= this.keep || this.free.includes(a)) return;
    if (a.length !== this.length || a.byteOffset !== 0 || a.buffer.byteLength !== this.length * 4) return;
    this.free.push(a);
  }

  get size(): number {
    return this.free.length;
  }
}
