/**
 * The best ratio to its bare session that a server could reach, given the work it adds per photo
 * outside inference (decode, preprocess, postprocess), each timed alone on one core. Pure, so
 * that the arithmetic the bench prints is tested (test/bounds.test.ts).
 *
 * Both ceilings leave out HTTP, garbage collection and the load generator, which the real server
 * pays too: they are upper bounds. What they say is how far a target is from what the stages
 * alone allow on this machine.
 */
export interface StageWork {
  decodeMs: number;
  preprocessMs: number;
  postprocessMs: number;
}

export interface Ceilings {
  /** decode + preprocess + postprocess, ms of one core per photo */
  stageMs: number;
  /**
   * c=1: one photo at a time, so the stages run before and after its inference, never beside
   * it: at best inferenceMs / (inferenceMs + stageMs).
   */
  c1: number;
  /**
   * Enough requests to keep every core busy: throughput is bounded by CPU time per photo. The
   * sessions side by side (or the one session, where none ran side by side) spend
   * `threads x 1000 / rate` core-ms per photo; the stages add stageMs; the ceiling is the
   * resulting rate over the one-session bare rate (the ratio the bench prints at c=4).
   */
  busy: number;
}

export function ceilings(opts: {
  /** the bare session with all threads, photos per second (the ratios' denominator) */
  bareRate: number;
  /** the fastest bare rate with every core busy (sessions side by side), if measured */
  busyRate?: number;
  threads: number;
  work: StageWork;
}): Ceilings {
  const { bareRate, threads, work } = opts;
  if (!(bareRate > 0) || !(threads >= 1)) throw new RangeError("bareRate and threads must be positive");
  const stageMs = work.decodeMs + work.preprocessMs + work.postprocessMs;
  const inferenceMs = 1000 / bareRate;
  const c1 = inferenceMs / (inferenceMs + stageMs);
  const busyRate = Math.max(bareRate, opts.busyRate ?? 0);
  const coreMs = (threads * 1000) / busyRate;
  const busy = (threads * 1000) / (coreMs + stageMs) / bareRate;
  return { stageMs, c1, busy };
}
