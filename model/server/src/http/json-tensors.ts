/**
 * v2 JSON bodies parsed into input tensors on a worker thread (json-worker.mjs says why), one
 * body at a time, with the worker's heap capped: a body that needs more memory than the cap is
 * refused (413) and the worker is started afresh for the next one.
 */
import { Worker } from "node:worker_threads";
import { BadInputError, TooLargeError } from "../errors.ts";

export interface TensorSpec {
  inputName: string;
  outputName: string;
  height: number;
  width: number;
  /** most images one request may carry */
  maxBatch: number;
}

export interface ParsedInfer {
  /** the request's "id", when it is a string */
  id: string | undefined;
  images: Float32Array[];
  /** a BYTES input instead: the encoded photos (JPEG or PNG), for the server to preprocess */
  photos?: Buffer[];
  /** per output name: answer it as binary data (the binary tensor extension) */
  binaryOut: Record<string, boolean>;
}

type Reply =
  | {
      seq: number;
      ok: true;
      id: string | undefined;
      binaryOut: Record<string, boolean>;
      images: ArrayBuffer[];
      photos?: ArrayBuffer[];
    }
  | { seq: number; ok: false; bad: boolean; message: string };

export class JsonTensors {
  private worker: Worker | undefined;
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();

  /** @param heapMb the worker's old-generation heap limit */
  constructor(private readonly heapMb: number) {}

  /**
   * Parse and check one body; bodies queue behind each other. With `headerLength` (the
   * Inference-Header-Content-Length header) the body is that many bytes of JSON, then the
   * inputs' binary data.
   */
  parse(body: Buffer, spec: TensorSpec, headerLength?: number): Promise<ParsedInfer> {
    const run = this.chain.then(() => this.run(body, spec, headerLength));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private run(body: Buffer, spec: TensorSpec, headerLength: number | undefined): Promise<ParsedInfer> {
    const worker = this.start();
    const seq = ++this.seq;
    return new Promise<ParsedInfer>((resolve, reject) => {
      const done = () => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      const onMessage = (r: Reply) => {
        if (r.seq !== seq) return;
        done();
        if (r.ok)
          resolve({
            id: r.id,
            binaryOut: r.binaryOut,
            images: r.images.map((b) => new Float32Array(b)),
            ...(r.photos ? { photos: r.photos.map((b) => Buffer.from(b)) } : {}),
          });
        else reject(r.bad ? new BadInputError(r.message) : new Error(`JSON worker: ${r.message}`));
      };
      const onError = (err: Error & { code?: string }) => {
        done();
        this.worker = undefined;
        reject(
          err.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? new TooLargeError(
                `JSON body of ${body.length} bytes needs more than the ${this.heapMb} MiB it may use to parse`,
              )
            : err,
        );
      };
      const onExit = (code: number) => onError(new Error(`JSON worker exited (code ${code})`));
      worker.on("message", onMessage);
      worker.once("error", onError);
      worker.once("exit", onExit);
      // A body with its own memory is moved over, not copied; a small one (a slice of Node's
      // shared buffer pool, which cannot be transferred) is copied into memory of its own.
      const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
      const bytes = whole ? body : new Uint8Array(body);
      worker.postMessage({ seq, body: bytes, spec, headerLength }, [bytes.buffer as ArrayBuffer]);
    });
  }

  private start(): Worker {
    if (!this.worker) {
      this.worker = new Worker(new URL("./json-worker.mjs", import.meta.url), {
        resourceLimits: { maxOldGenerationSizeMb: this.heapMb },
      });
      this.worker.unref();
      const w = this.worker;
      w.once("exit", () => {
        if (this.worker === w) this.worker = undefined;
      });
    }
    return this.worker;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}
