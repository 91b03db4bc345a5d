/**
 * Processes a test starts that start processes of their own (MLflow's server runs uvicorn, a
 * job runner and huey consumers): each is started as the leader of its own process group, and
 * stopped by signalling the whole group, so that no child outlives the test. A plain
 * `child.kill()` reaches the leader alone; its children are orphaned and keep running.
 */
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";

/** Whether any process of the group `pgid` is still alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * `spawn` in a new process group (the child is its leader). Stop it with `stopGroup` in an
 * afterAll/afterEach: vitest runs those even when a test or beforeAll failed.
 */
export function spawnGroup(command: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(command, args, { ...opts, detached: true });
}

/**
 * Stop a group started by `spawnGroup`: SIGTERM to every process in it, SIGKILL to what is left
 * after `graceMs`; resolves once no process of the group remains.
 */
export async function stopGroup(child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  const pgid = child?.pid;
  if (pgid === undefined || !groupAlive(pgid)) return;
  process.kill(-pgid, "SIGTERM");
  const gone = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (!groupAlive(pgid)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return !groupAlive(pgid);
  };
  if (await gone(graceMs)) return;
  process.kill(-pgid, "SIGKILL");
  if (!(await gone(5_000))) throw new Error(`process group ${pgid} is still alive after SIGKILL`);
}
