/** The bench's machine parser on /proc/cpuinfo samples (test/fixtures/README.md says which are recorded). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isaLabel, parseCpuinfo, peaksOf } from "../bench/machine.ts";
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
