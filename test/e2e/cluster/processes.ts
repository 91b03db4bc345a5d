/**
 * The processes `cluster up` starts: detached, logging to .e2e/logs/<name>.log, recorded by PID
 * in .e2e/pids.json so that `down` stops exactly those (and only while /proc shows the same
 * process under that PID: same start time, same program).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LOGS, PIDS, STATE } from "./layout.ts";

export interface Started {
  name: string;
  pid: number;
  command: string;
  /** the process's start time (clock ticks since boot, /proc/<pid>/stat field 22) */
  startTime: string;
}

export function readPids(): Started[] {
  if (!existsSync(PIDS)) return [];
  return JSON.parse(readFileSync(PIDS, "utf8")) as Started[];
}

function writePids(list: Started[]): void {
  mkdirSync(STATE, { recursive: true });
  writeFileSync(PIDS, `${JSON.stringify(list, null, 2)}\n`);
}

export function logFile(name: string): string {
  return join(LOGS, `${name}.log`);
}

export function start(
  name: string,
  command: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; netns?: string } = {},
): Started {
  if (!existsSync(command))
    throw new Error(`${name}: ${command} not found (run: bash scripts/setup-cluster.sh)`);
  mkdirSync(LOGS, { recursive: true });
  const out = openSync(logFile(name), "a");
  // In a network namespace: nsenter enters it and execs the command (same PID, the command's
  // own argv), so the recorded command is still what /proc shows. Only the network namespace:
  // the mounts a kubelet makes stay visible to its containerd.
  const [file, argv] = opts.netns
    ? ["nsenter", [`--net=/run/netns/${opts.netns}`, "--", command, ...args]]
    : [command, args];
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true,
    stdio: ["ignore", out, out],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  child.unref();
  const started = { name, pid: child.pid, command, startTime: startTimeOf(child.pid) ?? "" };
  writePids([...readPids().filter((p) => p.name !== name), started]);
  return started;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after "(comm)": state is field 3, starttime field 22
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** True while PID is the process that was started (a recycled PID is not ours). */
export function alive(p: Started): boolean {
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    // programs may rewrite their title (redis-server does), so the start time decides
    const cmdline = readFileSync(`/proc/${p.pid}/cmdline`, "utf8");
    return startTimeOf(p.pid) === p.startTime && state !== "Z" && cmdline.startsWith(p.command);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stop every recorded process, newest first: SIGTERM, then SIGKILL after 10 s. */
export async function stopAll(log: (line: string) => void): Promise<void> {
  const list = readPids().reverse();
  for (const p of list) {
    if (!alive(p)) {
      log(`${p.name} (pid ${p.pid}): not running`);
      continue;
    }
    process.kill(p.pid, "SIGTERM");
    for (let i = 0; i < 100 && alive(p); i++) await sleep(100);
    if (alive(p)) process.kill(p.pid, "SIGKILL");
    log(`${p.name} (pid ${p.pid}): stopped`);
  }
  writePids([]);
}
