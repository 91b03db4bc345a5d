/**
 * The V8 flags the server process runs under, defined once here and written out where a process
 * is started: the Dockerfile's ENTRYPOINT, `npm run serve` / `npm run predict` (package.json), the
 * bench and the tests that start servers (a test checks the first two against this list).
 *
 * `--initial-heap-size=128` (MiB): each photo allocates ~7 MB outside the JavaScript heap (the
 * decoded pixels from sharp, 4 MiB for a phone photo; the mask; ONNX Runtime's output; the
 * body). V8 counts those bytes against the limit that starts a full mark-compact, and that limit
 * follows the heap's live size, ~15 MB here: one mark-compact every ~2.7 photos (61 in 164 at
 * c=4, `--trace-gc`), with its pause on the event loop and its marking on the V8 helper threads,
 * both taken from the cores the inference needs. From 128 MiB on it fell to 5 in 164 (3 at 256,
 * 12 at 64); those bytes die young and the scavenges free them, so peak RSS stayed where it was
 * (458 MiB without the flag, 474 with it, same run). Not allowed in NODE_OPTIONS, hence the
 * command lines.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ["--initial-heap-size=128"];

/** The flags of SERVER_NODE_FLAGS that this process was not started with (`process.execArgv`). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return SERVER_NODE_FLAGS.filter((f) => !execArgv.includes(f));
}
