/** The bench's ceilings (bench/bounds.ts): the arithmetic behind the lines it prints. */
import { describe, expect, it } from "vitest";
import { ceilings } from "../bench/bounds.ts";

const work = { decodeMs: 10, preprocessMs: 10, postprocessMs: 5 };

describe("ceilings", () => {
  it("at c=1 the stages run in series with inference", () => {
    // 8 img/s bare: 125 ms per photo; 25 ms of stages: 125 / 150
    const c = ceilings({ bareRate: 8, threads: 2, work });
    expect(c.stageMs).toBe(25);
    expect(c.c1).toBeCloseTo(125 / 150, 12);
  });

  it("with every core busy, the stages' CPU time adds to the session's", () => {
    // 2 threads x 125 ms = 250 core-ms per photo, + 25: 2000 / 275 img/s over 8
    expect(ceilings({ bareRate: 8, threads: 2, work }).busy).toBeCloseTo(2000 / 275 / 8, 12);
    // sessions side by side at 8.4 img/s: 2000 / 8.4 core-ms per photo, + 25
    expect(ceilings({ bareRate: 8, busyRate: 8.4, threads: 2, work }).busy).toBeCloseTo(
      2000 / (2000 / 8.4 + 25) / 8,
      12,
    );
    // a slower side-by-side rate does not lower the ceiling below the one session's
    expect(ceilings({ bareRate: 8, busyRate: 7, threads: 2, work }).busy).toBeCloseTo(2000 / 275 / 8, 12);
  });

  it("without stage work the ceilings are the bare rates themselves", () => {
    const none = { decodeMs: 0, preprocessMs: 0, postprocessMs: 0 };
    expect(ceilings({ bareRate: 8, threads: 2, work: none }).c1).toBe(1);
    expect(ceilings({ bareRate: 8, busyRate: 8.4, threads: 2, work: none }).busy).toBeCloseTo(8.4 / 8, 12);
  });

  it("refuses a rate or thread count that is not positive", () => {
    expect(() => ceilings({ bareRate: 0, threads: 2, work })).toThrow(RangeError);
    expect(() => ceilings({ bareRate: 8, threads: 0, work })).toThrow(RangeError);
  });
});
