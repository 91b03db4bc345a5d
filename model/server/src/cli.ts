/**
 * wms model server command line.
 *
 *   serve   --model <path|file://|s3://> [--sha256 <hex>] [--card <path|uri>] [--port 8080]
 *           [--metrics-port 8082] [--threads N] [--queue N] ...
 *   predict <image>... --model <path|uri> [--card ...] [--sha256 ...] [--out <dir>]
 *
 * One top-level catch prints `Error: ...` and sets the exit code (1 failure, 2 usage).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  instancesFitThreads,
  minMemoryLimitBytes,
  SERVER_FLAGS,
  type ServerFlag,
  type ServerFlagValues,
  sessionCount,
} from "../../serving-contract.ts";
import { closest } from "./did-you-mean.ts";
import { errorMessage } from "./errors.ts";
import { jsonLogger } from "./log.ts";
import { restrictDecoders } from "./model/decode.ts";
import { ModelHost } from "./model/lifecycle.ts";
import { overlayPng } from "./model/postprocess.ts";
import { missingNodeFlags, SERVER_NODE_FLAGS } from "./node-flags.ts";
import { predictImage } from "./predictor.ts";
import { BatchQueue } from "./queue.ts";
import { DEFAULTS, type ServerOptions, startServer } from "./server.ts";

class UsageError extends Error {}

const USAGE = `usage:
  cli.ts serve --model <path|file://...|s3://...> [--sha256 <hex>] [--card <path|uri>]
               [--port ${DEFAULTS.port}] [--metrics-port ${DEFAULTS.metricsPort}] [--host ${DEFAULTS.host}]
               [--threads N (0 = CPUs available; set it to the pod's CPU limit)]
               [--instances N (${DEFAULTS.instances}; N sessions of threads/N side by side under load, one more for lone requests)]
               [--queue N (${DEFAULTS.queue})] [--max-batch N (${DEFAULTS.maxBatch})]
               [--prefetch N (0 = 2 x max-batch)] [--batch-delay-ms ${DEFAULTS.batchDelayMs}] [--max-body-bytes ${DEFAULTS.maxBodyBytes}]
               [--max-json-bytes ${DEFAULTS.maxJsonBytes}] [--max-pixels ${DEFAULTS.maxPixels}]
               [--memory-limit-bytes N (the container's limit: the limits above follow from it; 0 = none)]
               [--max-inflight-body-bytes ${DEFAULTS.maxInflightBodyBytes}] [--min-body-bytes-per-second ${DEFAULTS.minBodyBytesPerSecond}]
               [--body-grace-ms ${DEFAULTS.bodyGraceMs}]
               [--shadow URL (another version's server: copy answered predictions there, compare the masks)]
               [--shadow-sample P (${DEFAULTS.shadowSample}, in (0,1])] [--shadow-timeout-ms ${DEFAULTS.shadowTimeoutMs}] [--shadow-max-in-flight ${DEFAULTS.shadowMaxInFlight}]
               [--request-timeout-ms ${DEFAULTS.requestTimeoutMs}] [--headers-timeout-ms ${DEFAULTS.headersTimeoutMs}]
               [--keep-alive-timeout-ms ${DEFAULTS.keepAliveTimeoutMs}] [--drain-ms ${DEFAULTS.drainMs}]
               [--shutdown-timeout-ms ${DEFAULTS.shutdownTimeoutMs}] [--ort-spinning] [--no-access-log]
               [--exact-preprocess (decode JPEGs at full size and resize as training's Pillow does;
                default: at libjpeg's smallest DCT scale at or above the model input, resized by libvips)]
               --host: ${DEFAULTS.host} (this machine only) unless given; the image and the rendered
               Deployments pass --host 0.0.0.0. An access log line (JSON, stderr) per request unless --no-access-log.
  cli.ts predict <image>... --model <path|uri> [--sha256 <hex>] [--card <path|uri>] [--out <dir>] [--threads N]
               [--exact-preprocess]`;

const COMMANDS = ["serve", "predict", "help"] as const;

// The flags are the serving contract's (model/serving-contract.ts): the generator renders
// them with serverArgs, this parses them; out and help are the CLI's own.
const OPTIONS = {
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries(
    SERVER_FLAGS.map((f) => [
      f.name,
      { type: f.kind === "boolean" ? ("boolean" as const) : ("string" as const) },
    ]),
  ),
} as const;

/** A flag's value: a string, true for a boolean flag, undefined when not given. */
type FlagValues = Record<string, string | boolean | undefined>;

function parse(argv: string[]): { values: FlagValues; positionals: string[] } {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    // Node's own words ("Unknown option '--prot'. To specify a positional argument ...") become
    // the generator's: the option, and the nearest one it may have meant.
    const code = (err as { code?: string }).code;
    const unknown = /Unknown option '(-{1,2}[^']*)'/.exec(errorMessage(err));
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && unknown) {
      const guess = closest(unknown[1]?.replace(/^-+/, "") ?? "", Object.keys(OPTIONS));
      throw new UsageError(`unknown option ${unknown[1]}${guess ? `; did you mean --${guess}?` : ""}`);
    }
    const needs = /Option '(-{1,2}[^ ']*)(?: <value>)?' argument missing/.exec(errorMessage(err));
    if (needs) throw new UsageError(`${needs[1]} needs a value`);
    throw new UsageError(errorMessage(err));
  }
}

function toInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${flag} must be a non-negative integer, got "${raw}"`);
  return n;
}

/** One flag's value as its kind in SERVER_FLAGS says. */
function flagValue(f: ServerFlag, raw: string | boolean): string | number | boolean {
  if (f.kind === "boolean" || typeof raw === "boolean") return raw === true;
  if (f.kind === "integer") return toInt(f.name, raw);
  if (f.kind === "fraction") {
    const p = Number(raw);
    if (!(p > 0 && p <= 1)) throw new UsageError(`--${f.name} must be in (0, 1], got "${raw}"`);
    return p;
  }
  if (f.kind === "url") {
    let u: URL | undefined;
    try {
      u = new URL(raw);
    } catch {}
    if (u?.protocol !== "http:" && u?.protocol !== "https:")
      throw new UsageError(`--${f.name} must be an http(s) URL, got "${raw}"`);
  }
  return raw;
}

/** The serve flags given on the command line, by the option each sets. */
function givenFlags(values: Record<string, string | boolean | undefined>): Partial<ServerFlagValues> {
  const given: Record<string, string | number | boolean> = {};
  for (const f of SERVER_FLAGS) {
    const raw = values[f.name];
    if (raw !== undefined) given[f.key] = flagValue(f, raw);
  }
  return given as Partial<ServerFlagValues>;
}

async function serve(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const missing = missingNodeFlags();
  if (missing.length > 0) {
    // Served all the same, with a full GC every few photos (node-flags.ts says what it costs).
    jsonLogger("warn", "node started without the server's V8 flags", {
      missing,
      fix: `start it as node ${SERVER_NODE_FLAGS.join(" ")} <cli> serve ... (as the Dockerfile and npm run serve do)`,
    });
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (typeof values.model !== "string") throw new UsageError("--model is required");
  const { ortSpinning, noAccessLog, ...given } = givenFlags(values);
  if (given.shadowSample !== undefined && given.shadowUrl === undefined)
    throw new UsageError("--shadow-sample needs --shadow");
  const opts: ServerOptions = {
    ...DEFAULTS,
    ...given,
    model: values.model,
    host: given.host ?? DEFAULTS.host,
    ortSpinning: ortSpinning === true,
    accessLog: noAccessLog !== true,
    exactPreprocess: given.exactPreprocess === true,
  };
  if (opts.maxBatch < 1) throw new UsageError("--max-batch must be at least 1");
  if (opts.shadowMaxInFlight < 1) throw new UsageError("--shadow-max-in-flight must be at least 1");
  if (opts.prefetch !== 0 && opts.prefetch < opts.maxBatch)
    throw new UsageError(`--prefetch must be 0 (2 x max-batch) or at least --max-batch (${opts.maxBatch})`);
  if (opts.instances < 1) throw new UsageError("--instances must be at least 1");
  const threads = opts.threads || availableParallelism();
  if (!instancesFitThreads(opts.instances, threads))
    throw new UsageError(
      `--instances ${opts.instances} needs a thread each: at most --threads (${opts.threads ? threads : `0 = ${threads} CPUs here`})`,
    );
  const minMemory = minMemoryLimitBytes(sessionCount(opts.instances));
  if (opts.memoryLimitBytes > 0 && opts.memoryLimitBytes < minMemory)
    throw new UsageError(
      `--memory-limit-bytes ${opts.memoryLimitBytes} leaves nothing for requests${opts.instances > 1 ? ` with --instances ${opts.instances}` : ""}: at least ${minMemory} (or 0 = none)`,
    );
  const server = await startServer(opts);
  const stop = (signal: string) => {
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: "info", msg: `${signal} received` })}\n`,
    );
    server.shutdown().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`Error: shutdown failed: ${errorMessage(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

async function predict(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (typeof values.model !== "string") throw new UsageError("--model is required");
  if (positionals.length === 0) throw new UsageError("name at least one image");
  restrictDecoders();
  const host = new ModelHost();
  await host.load({
    model: values.model,
    sha256: typeof values.sha256 === "string" ? values.sha256 : undefined,
    card: typeof values.card === "string" ? values.card : undefined,
    threads: typeof values.threads === "string" ? toInt("threads", values.threads) : 0,
    maxBatch: 1,
  });
  const queue = new BatchQueue<Float32Array, Float32Array>(
    { capacity: 0, maxBatch: 1, maxDelayMs: 0 },
    (items, run) => host.infer(items, run),
  );
  try {
    for (const file of positionals) {
      const bytes = await readFile(file);
      const slot = queue.reserve();
      const p = await predictImage(
        host,
        bytes,
        slot,
        { maxPixels: DEFAULTS.maxPixels },
        { keepPixels: true, exactPreprocess: values["exact-preprocess"] === true },
      ).finally(() => slot.release());
      const outDir = typeof values.out === "string" ? resolve(values.out) : dirname(resolve(file));
      await mkdir(outDir, { recursive: true });
      const stem = basename(file, extname(file));
      const maskPath = join(outDir, `${stem}.mask.png`);
      const overlayPath = join(outDir, `${stem}.overlay.png`);
      await writeFile(maskPath, p.png);
      await writeFile(overlayPath, await overlayPng(p.image.data as Buffer, p.mask));
      process.stdout.write(
        `${JSON.stringify({
          image: file,
          mask: maskPath,
          overlay: overlayPath,
          width: p.mask.width,
          height: p.mask.height,
          coverage: p.mask.coverage,
          bbox: p.mask.bbox,
          model: p.model,
        })}\n`,
      );
    }
  } finally {
    await host.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "serve") return serve(rest);
  if (command === "predict") return predict(rest);
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const guess = closest(command, COMMANDS);
  throw new UsageError(`unknown command "${command}"${guess ? `; did you mean ${guess}?` : ""}`);
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof UsageError) {
    process.stderr.write(`Error: ${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`Error: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  }
});
