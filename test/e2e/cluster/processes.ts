/**
 * The processes `cluster up` starts: detached, logging to .e2e/logs/<name>.log, recorded by PID
 * in .e2e/pids.json so that `down` stops exactly those (and only while /proc still shows the
 * same program under that PID).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LOGS, PIDS, STATE } from "./layout.ts";

export interface Started {
  name: string;
  pid: number;
  command: string;
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
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Started {
  mkdirSync(LOGS, { recursive: true });
  const out = openSync(logFile(name), "a");
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true,
    stdio: ["ignore", out, out],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  child.unref();
  const started = { name, pid: child.pid, command };
  writePids([...readPids().filter((p) => p.name !== name), started]);
  return started;
}

/** True while PID runs the program it was started as (a recycled PID is not ours). */
export function alive(p: Started): boolean {
  try {
    const cmdline = readFileSync(`/proc/${p.pid}/cmdline`, "utf8").split("\0")[0] ?? "";
    const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return cmdline === p.command && state !== "Z";
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
