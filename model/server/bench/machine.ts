/**
 * What the CPU can do, for the bench's "how close to peak" lines: the ISA from /proc/cpuinfo
 * (AVX2, FMA, AVX-512, VNNI, AMX) and the fp32 and int8 peaks per core and cycle that follow.
 * The clock is measured (bench/py/machine.py), not read: a VM's "cpu MHz" is the host's base.
 * Pure: the bench passes the file's text, the tests recorded samples.
 */

export interface Isa {
  fma: boolean;
  avx2: boolean;
  avx512: boolean;
  /** int8 dot products: VPDPBUSD on 512-bit (AVX512_VNNI) or 256-bit (AVX_VNNI) registers */
  vnni: "avx512" | "avx" | null;
  /** Intel AMX tiles with int8 */
  amx: boolean;
}

export interface CpuInfo {
  vendor: string;
  model: string;
  family: number | null;
  logicalCpus: number;
  isa: Isa;
}

export function parseCpuinfo(text: string): CpuInfo {
  const blocks = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  const first = blocks[0] ?? "";
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(first)?.[1]?.trim();
  const flags = new Set((field("flags") ?? "").split(/\s+/));
  const family = Number(field("cpu family"));
  return {
    vendor: field("vendor_id") ?? "unknown",
    model: field("model name") ?? "unknown",
    family: Number.isFinite(family) ? family : null,
    logicalCpus: blocks.length,
    isa: {
      fma: flags.has("fma"),
      avx2: flags.has("avx2"),
      avx512: flags.has("avx512f"),
      vnni: flags.has("avx512_vnni") ? "avx512" : flags.has("avx_vnni") ? "avx" : null,
      amx: flags.has("amx_tile") && flags.has("amx_int8"),
    },
  };
}

export function isaLabel(isa: Isa): string {
  const parts = [isa.avx512 ? "AVX-512" : isa.avx2 ? "AVX2" : "SSE/AVX"];
  if (isa.fma) parts.push("FMA");
  parts.push(isa.vnni === "avx512" ? "AVX512-VNNI" : isa.vnni === "avx" ? "AVX-VNNI" : "no VNNI");
  parts.push(isa.amx ? "AMX-INT8" : "no AMX");
  return parts.join(" + ");
}

export interface Peaks {
  /** float32 FLOP per cycle per core */
  fp32PerCycle: number;
  /** int8 operations (a multiply-accumulate is 2) per cycle per core */
  int8PerCycle: number;
  /** what the figures assume */
  basis: string;
}

/**
 * Peak throughput per core and cycle, assuming two vector FMA pipes (every x86 server core of
 * the last decade but some low-end Xeons with one 512-bit FMA unit). AMD Zen 4 runs 512-bit
 * instructions on 256-bit pipes (cpu family 25 with avx512f), so it peaks as AVX2 does.
 */
export function peaksOf(cpu: CpuInfo): Peaks {
  const { isa } = cpu;
  const zen4 = cpu.vendor === "AuthenticAMD" && cpu.family === 25 && isa.avx512;
  const lanes = isa.avx512 && !zen4 ? 16 : isa.avx2 || isa.avx512 ? 8 : 4; // fp32 lanes per pipe
  const fp32PerCycle = isa.fma ? 2 * lanes * 2 : 2 * lanes; // FMA = 2 FLOP; else one mul + one add
  // int8: VPDPBUSD does 4 MACs per 32-bit lane; without VNNI the VPMADDUBSW + VPMADDWD + VPADDD
  // sequence does the same work in 3 instructions; AMX's TDPBUSD does 1024 MACs per cycle.
  const macsPerCycle = isa.amx
    ? 1024
    : isa.vnni === "avx512" && !zen4
      ? 2 * 16 * 4
      : isa.vnni
        ? 2 * 8 * 4
        : (2 * lanes * 4) / 3;
  return {
    fp32PerCycle,
    int8PerCycle: 2 * macsPerCycle,
    basis: `2 vector pipes${zen4 ? " (512-bit as 2 x 256 on Zen 4)" : ""}${isa.amx ? "; int8 on AMX tiles" : ""}`,
  };
}

/** CPU time counters from the first line of /proc/stat (USER_HZ ticks, all cores summed). */
export interface CpuTicks {
  total: number;
  steal: number;
}

export function parseProcStat(text: string): CpuTicks {
  const line = text.split("\n").find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error("/proc/stat: no aggregate 'cpu' line");
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is inside user
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, steal };
}

/**
 * One line saying how far a run's numbers can be trusted: the load average around it, the share of
 * CPU time the hypervisor took (steal), and whether the kernel groups CPU time per session
 * (sched_autogroup): the bench starts each server in its own session, so with autogroup on, any
 * other work on the machine, however `nice`d, gets an equal share against the server.
 */
export function quietLabel(q: {
  loadBefore: number;
  loadAfter: number;
  before: CpuTicks;
  after: CpuTicks;
  autogroup: boolean | null;
}): string {
  const span = q.after.total - q.before.total;
  const steal = span > 0 ? (100 * (q.after.steal - q.before.steal)) / span : 0;
  const group =
    q.autogroup === null
      ? "sched_autogroup unknown"
      : q.autogroup
        ? "sched_autogroup on (other sessions' work takes a share from the server's)"
        : "sched_autogroup off";
  const verdict =
    q.loadBefore >= 1 || steal >= 5 ? "NOT quiet: compare rows of this run only with care" : "quiet";
  return `load average ${q.loadBefore.toFixed(2)} before, ${q.loadAfter.toFixed(2)} after; steal ${steal.toFixed(1)}% of CPU time during the run; ${group}; ${verdict}`;
}
