/**
 * Which session runs a batch (session-pool.ts), and what the queue tells it (queue.ts). The
 * sessions here are recorders with a timer, not ONNX Runtime: what is tested is the choice and
 * the overlap; the real sessions run in lifecycle.test.ts and the bench.
 */
import { describe, expect, it } from "vitest";
import { type PoolSession, type RunContext, SessionPool, sessionThreads } from "../src/model/session-pool.ts";
import { BatchQueue } from "../src/queue.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A session that runs one batch at a time (as a worker thread does) for `ms` each. */
class TimedSession implements PoolSession {
  running = 0;
  ran: number[] = [];
  private busy = Promise.resolve();
  constructor(
    readonly name: string,
    private readonly ms: number,
    private readonly log: string[],
  ) {}
  run(_i: string, _o: string, data: Float32Array, dims: number[]) {
    const go = this.busy.then(async () => {
      this.running++;
      this.log.push(`${this.name}+`);
      await sleep(this.ms);
      this.running--;
      this.log.push(`${this.name}-`);
      this.ran.push(data[0] as number);
      return { dims, data, input: data };
    });
    this.busy = go.then(() => undefined);
    return go;
  }
}

const ctx = (alone: boolean, started: () => void = () => undefined): RunContext => ({ alone, started });
const tensor = (n: number) => new Float32Array([n]);

function pool(narrowCount: number) {
  const log: string[] = [];
  const wide = new TimedSession("wide", 30, log);
  const narrow = Array.from({ length: narrowCount }, (_, i) => new TimedSession(`n${i}`, 30, log));
  return { log, wide, narrow, pool: new SessionPool(wide, narrow) };
}

/** The most sessions running at once, read from the +/- log. */
function peak(log: string[], names: string[]): number {
  let now = 0;
  let most = 0;
  for (const e of log) {
    if (!names.some((n) => e.startsWith(n))) continue;
    now += e.endsWith("+") ? 1 : -1;
    most = Math.max(most, now);
  }
  return most;
}

describe("SessionPool", () => {
  it("runs a lone batch on the session with all the threads", async () => {
    const p = pool(2);
    await p.pool.run("x", "y", tensor(1), [1], ctx(true));
    await p.pool.run("x", "y", tensor(2), [1], ctx(true));
    expect(p.wide.ran).toEqual([1, 2]);
    expect(p.narrow.flatMap((s) => s.ran)).toEqual([]);
    expect(p.pool.runs).toEqual({ wide: 2, narrow: 0 });
  });

  it("runs batches that arrive together side by side on the narrow sessions, never beside the wide one", async () => {
    const p = pool(2);
    const all = [1, 2, 3, 4].map((n) => p.pool.run("x", "y", tensor(n), [1], ctx(false)));
    await Promise.all(all);
    expect(p.wide.ran).toEqual([]);
    expect(p.narrow[0]?.ran.length).toBe(2);
    expect(p.narrow[1]?.ran.length).toBe(2);
    expect(peak(p.log, ["n"])).toBe(2);
    // and back to the wide session once the load is gone
    await p.pool.run("x", "y", tensor(5), [1], ctx(true));
    expect(p.wide.ran).toEqual([5]);
    expect(p.pool.mode).toBe("wide");
  });

  it("lets the wide session finish before the narrow ones take over when load arrives", async () => {
    const p = pool(2);
    const first = p.pool.run("x", "y", tensor(1), [1], ctx(true));
    await sleep(5);
    const more = [2, 3].map((n) => p.pool.run("x", "y", tensor(n), [1], ctx(false)));
    await Promise.all([first, ...more]);
    expect(p.wide.ran).toEqual([1]);
    expect(p.narrow.flatMap((s) => s.ran).sort()).toEqual([2, 3]);
    // the wide session never ran beside a narrow one
    expect(p.log.indexOf("wide-")).toBeLessThan(p.log.indexOf("n0+"));
    expect(p.log.indexOf("wide-")).toBeLessThan(p.log.indexOf("n1+"));
  });

  it("with one session hands it two batches at once and reports when each really starts", async () => {
    const p = pool(0);
    const startedAt: number[] = [];
    const t0 = performance.now();
    const runs = [1, 2, 3].map((n) =>
      p.pool.run(
        "x",
        "y",
        tensor(n),
        [1],
        ctx(false, () => startedAt.push(performance.now() - t0)),
      ),
    );
    await sleep(5);
    expect(p.pool.runs.wide).toBe(2); // the third waits in the pool
    await Promise.all(runs);
    expect(p.wide.ran).toEqual([1, 2, 3]);
    expect(startedAt[0]).toBeLessThan(10);
    expect(startedAt[1]).toBeGreaterThanOrEqual(25); // behind the first, though handed over at once
    expect(startedAt[2]).toBeGreaterThanOrEqual(55);
  });

  it("passes a failed run's error to its caller and keeps serving", async () => {
    const failing: PoolSession = { run: async () => Promise.reject(new Error("ORT said no")) };
    const p = new SessionPool(failing);
    await expect(p.run("x", "y", tensor(1), [1])).rejects.toThrow("ORT said no");
    await expect(p.run("x", "y", tensor(2), [1])).rejects.toThrow("ORT said no");
  });

  it("fails only the batch whose session throws instead of rejecting, and runs the next", async () => {
    let calls = 0;
    const throwing: PoolSession = {
      run: (_i, _o, data, dims) => {
        calls++;
        if (calls === 1) throw new Error("thrown, not rejected");
        return Promise.resolve({ dims, data, input: data });
      },
    };
    // beside a narrow session the wide one takes one batch at a time: had the throw left its
    // count up, the pool would never be idle again and the next lone batch would wait forever
    const p = new SessionPool(throwing, [new TimedSession("n0", 5, [])]);
    await expect(p.run("x", "y", tensor(1), [1], ctx(true))).rejects.toThrow("thrown, not rejected");
    const next = p.run("x", "y", tensor(2), [1], ctx(true)).then((r) => r.data[0]);
    expect(await Promise.race([next, sleep(1000).then(() => "stuck")])).toBe(2);
  });

  it("counts every batch by kind for the metric", async () => {
    const seen: string[] = [];
    const log: string[] = [];
    const p = new SessionPool(new TimedSession("wide", 5, log), [new TimedSession("n0", 5, log)], (m) =>
      seen.push(m),
    );
    await p.run("x", "y", tensor(1), [1], ctx(true));
    await Promise.all([
      p.run("x", "y", tensor(2), [1], ctx(false)),
      p.run("x", "y", tensor(3), [1], ctx(false)),
    ]);
    expect(seen).toEqual(["wide", "narrow", "narrow"]);
  });
});

describe("sessionThreads", () => {
  it("gives the wide session every thread and spreads them over the narrow ones", () => {
    expect(sessionThreads(2, 1)).toEqual([2]);
    expect(sessionThreads(2, 2)).toEqual([2, 1, 1]);
    expect(sessionThreads(3, 2)).toEqual([3, 2, 1]);
    expect(sessionThreads(8, 3)).toEqual([8, 3, 3, 2]);
  });

  it("refuses more instances than threads, and fewer than one", () => {
    expect(() => sessionThreads(2, 3)).toThrow(/from 1 to the 2 threads/);
    expect(() => sessionThreads(2, 0)).toThrow(RangeError);
  });
});

describe("BatchQueue's alone", () => {
  it("is true for the only request and false while another admitted one waits for inference", async () => {
    const seen: boolean[] = [];
    const q = new BatchQueue<number, number>({ capacity: 4, maxBatch: 1, maxDelayMs: 0 }, async (xs, run) => {
      seen.push(run.alone);
      run.started();
      await sleep(10);
      return xs;
    });
    const a = q.reserve();
    await a.submit(1);
    a.release();
    const b = q.reserve();
    const c = q.reserve(); // admitted, still preparing
    const bDone = b.submit(2);
    await bDone;
    await c.submit(3); // b is done with inference (postprocessing): c is alone
    b.release();
    c.release();
    expect(seen).toEqual([true, false, true]);
  });
});
