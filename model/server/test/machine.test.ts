/** The bench's machine parser on /proc/cpuinfo samples (test/fixtures/README.md says which are recorded). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isaLabel, parseCpuinfo, parseProcStat, peaksOf, quietLabel } from "../bench/machine.ts";
import { SERVER_DIR } from "./support/model.ts";

const sample = (name: string) => parseCpuinfo(readFileSync(join(SERVER_DIR, "test/fixtures", name), "utf8"));

describe("machine parser", () => {
  it("reads an AMD Zen 3 (recorded on the CI machine): AVX2 + FMA, no AVX-512, VNNI or AMX", () => {
    const cpu = sample("cpuinfo-amd-epyc-zen3-avx2.txt");
    expect(cpu).toMatchObject({ vendor: "AuthenticAMD", model: "AMD EPYC", family: 25, logicalCpus: 2 });
    expect(cpu.isa).toEqual({ fma: true, avx2: true, avx512: false, vnni: null, amx: false });
    expect(isaLabel(cpu.isa)).toBe("AVX2 + FMA + no VNNI + no AMX");
    const p = peaksOf(cpu);
    expect(p.fp32PerCycle).toBe(32); // 2 pipes x 8 lanes x 2 (FMA)
    expect(p.int8PerCycle).toBeCloseTo(2 * (64 / 3), 6); // 3-instruction int8 sequence, no VNNI
  });

  it("reads an Intel Cascade Lake: AVX-512 + VNNI doubles fp32 and triples int8 per cycle", () => {
    const cpu = sample("cpuinfo-intel-xeon-cascadelake-avx512-vnni.txt");
    expect(cpu).toMatchObject({ vendor: "GenuineIntel", logicalCpus: 2 });
    expect(cpu.model).toMatch(/Xeon\(R\) Platinum 8269CY/);
    expect(cpu.isa).toEqual({ fma: true, avx2: true, avx512: true, vnni: "avx512", amx: false });
    expect(isaLabel(cpu.isa)).toBe("AVX-512 + FMA + AVX512-VNNI + no AMX");
    expect(peaksOf(cpu)).toMatchObject({ fp32PerCycle: 64, int8PerCycle: 256 });
  });

  it("reads an Intel Sapphire Rapids: AMX-INT8 tiles", () => {
    const cpu = sample("cpuinfo-intel-xeon-sapphirerapids-amx.txt");
    expect(cpu.isa).toMatchObject({ avx512: true, vnni: "avx512", amx: true });
    expect(peaksOf(cpu)).toMatchObject({ fp32PerCycle: 64, int8PerCycle: 2048 });
  });

  it("counts an AMD Zen 4's AVX-512 at 256-bit width", () => {
    const zen3 = readFileSync(join(SERVER_DIR, "test/fixtures/cpuinfo-amd-epyc-zen3-avx2.txt"), "utf8");
    const zen4 = parseCpuinfo(zen3.replaceAll(/^(flags\s*:.*)$/gm, "$1 avx512f avx512_vnni"));
    expect(zen4.isa).toMatchObject({ avx512: true, vnni: "avx512" });
    expect(peaksOf(zen4)).toMatchObject({ fp32PerCycle: 32, int8PerCycle: 128 });
  });
});

describe("how quiet the run was", () => {
  // first lines of /proc/stat on the 2-core Intel Xeon (AMX) machine, 10 s apart, idle
  const before = parseProcStat(
    "cpu  182295 192382 51056 8285703 5613 0 1638 14849 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n",
  );
  const after = parseProcStat("cpu  182295 192382 51059 8287696 5613 0 1638 14860 0 0\n");

  it("sums the aggregate line and keeps steal apart", () => {
    expect(before).toEqual({
      total: 182295 + 192382 + 51056 + 8285703 + 5613 + 1638 + 14849,
      steal: 14849,
    });
    expect(() => parseProcStat("intr 1 2 3\n")).toThrow(/no aggregate 'cpu' line/);
  });

  it("calls an idle machine with little steal quiet, and says autogroup is on", () => {
    const line = quietLabel({ loadBefore: 0.1, loadAfter: 1.3, before, after, autogroup: true });
    expect(line).toMatch(/^load average 0\.10 before, 1\.30 after; steal 0\.5% of CPU time/);
    expect(line).toContain("sched_autogroup on");
    expect(line).toMatch(/; quiet$/);
  });

  it("flags a loaded start or a high steal share", () => {
    expect(quietLabel({ loadBefore: 1.2, loadAfter: 1.3, before, after, autogroup: false })).toMatch(
      /sched_autogroup off; NOT quiet/,
    );
    const stolen = { ...after, steal: before.steal + 400, total: before.total + 2000 };
    expect(quietLabel({ loadBefore: 0, loadAfter: 0, before, after: stolen, autogroup: null })).toMatch(
      /steal 20\.0%.*NOT quiet/,
    );
  });
});
