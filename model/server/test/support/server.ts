/** Start an in-process server on loopback ports chosen by the OS. */
import { silentLogger } from "../../src/log.ts";
import { DEFAULTS, type RunningServer, type ServerOptions, startServer } from "../../src/server.ts";

export async function testServer(opts: Partial<ServerOptions> & { model: string }): Promise<RunningServer> {
  return startServer({
    ...DEFAULTS,
    host: "127.0.0.1",
    port: 0,
    metricsPort: 0,
    threads: 2,
    log: silentLogger,
    ...opts,
  });
}
