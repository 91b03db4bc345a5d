/**
 * The binary tensor extension of the Open Inference Protocol (issue 30): driven by a client no
 * one here wrote, tritonclient[http] (pinned in model/training/requirements.txt, installed into
 * .venv by scripts/setup.sh), and by hand for what that client never sends (hostile bodies). The
 * server is the CLI in its own process group, stopped with the whole group afterwards.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVER_NODE_FLAGS } from "../src/node-flags.ts";
import { jpegPhoto } from "./support/images.ts";
import { modelUnavailable, PYTHON, REPO_ROOT, SERVER_DIR, untrainedModel } from "./support/model.ts";

const run = promisify(execFile);
const CLI = join(REPO_ROOT, "model/server/src/cli.ts");
const DRIVER = join(SERVER_DIR, "test/support/tritonclient_driver.py");
// WMS_TRITONCLIENT_PYTHON: another interpreter with tritonclient[http] (where .venv is shared and not to be changed)
const CLIENT_PYTHON = process.env.WMS_TRITONCLIENT_PYTHON ?? PYTHON;
/** room for one 512x512 FP32 image as JSON numbers (~16 MB of text); 8 as binary are 25 MB */
const MAX_JSON_BYTES = 24 * 1024 * 1024;

// Skipped only without the Python venv: the test model is exported by the training package.
const noModel = modelUnavailable();
if (noModel) console.warn(`SKIP binary tensor tests: ${noModel}`);
// The client tests are skipped only where tritonclient is not installed in that venv (a venv
// made before requirements.txt pinned it: `bash scripts/setup.sh` reinstalls it).
const noClient =
  noModel ??
  (() => {
    try {
      execFileSync(CLIENT_PYTHON, ["-c", "import tritonclient.http"], { stdio: "ignore", timeout: 60_000 });
      return null;
    } catch {
      return `tritonclient[http] is not importable by ${CLIENT_PYTHON} (bash scripts/setup.sh installs model/training/requirements.txt)`;
    }
  })();
if (noClient && !noModel) console.warn(`SKIP tritonclient tests: ${noClient}`);

let proc: ChildProcess | undefined;
let url = "";

async function startServer(model: string): Promise<void> {
  proc = spawn(
    process.execPath,
    [
      ...SERVER_NODE_FLAGS,
      "--import",
      "tsx",
      CLI,
      "serve",
      "--model",
      model,
      "--port",
      "0",
      "--metrics-port",
      "0",
    ].concat(["--threads", "2", "--max-json-bytes", String(MAX_JSON_BYTES), "--no-access-log"]),
    // its own process group: afterAll stops the server and whatever it started, together
    { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let log = "";
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in 120 s:\n${log}`)), 120_000);
    proc?.stderr?.on("data", (d) => {
      log += d;
      const listening = /"msg":"listening","url":"([^"]+)"/.exec(log);
      if (listening && log.includes('"msg":"model ready"')) {
        clearTimeout(timer);
        resolve(listening[1] as string);
      }
    });
    proc?.once("exit", (code) => reject(new Error(`server exited ${code}:\n${log}`)));
  });
}

async function stopServer(): Promise<void> {
  const p = proc;
  if (!p?.pid || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  process.kill(-p.pid, "SIGTERM");
  const timer = setTimeout(() => {
    try {
      process.kill(-(p.pid as number), "SIGKILL");
    } catch {}
  }, 20_000);
  await exited;
  clearTimeout(timer);
  // nothing of the group is left
  expect(() => process.kill(-(p.pid as number), 0)).toThrow();
}

/** A binary-extension request body: the JSON header, then the raw bytes. */
function binaryBody(header: unknown, ...raw: Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...raw]), headerLength: json.length };
}

async function post(
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const r = await fetch(`${url}/v2/models/wms/infer`, { method: "POST", body, headers });
  return { status: r.status, headers: r.headers, bytes: Buffer.from(await r.arrayBuffer()) };
}

function floats(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 4 - 2;
  }
  return x;
}
const le = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
const N = 3 * 512 * 512;
const INPUT = (size: number, shape = [1, 3, 512, 512]) => ({
  inputs: [{ name: "input", datatype: "FP32", shape, parameters: { binary_data_size: size } }],
});

// Skipped only where no ONNX model can be exported (no training venv): the server needs one to start.
describe.skipIf(noModel !== null)("v2 binary tensors", () => {
  let work: string;
  let photo: Buffer;
  beforeAll(async () => {
    await startServer((await untrainedModel()).model);
    work = await mkdtemp(join(tmpdir(), "wms-triton-"));
    photo = await jpegPhoto(1000, 1333, 6);
    await writeFile(join(work, "photo.jpg"), photo);
  }, 240_000);
  afterAll(async () => {
    await stopServer();
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);

  // Skipped only where tritonclient is not importable (scripts/setup.sh installs it from
  // model/training/requirements.txt; WMS_TRITONCLIENT_PYTHON names another interpreter).
  it.skipIf(noClient !== null)(
    "tritonclient[http]: health, metadata, FP32 tensors binary both ways (the same floats as JSON), a photo as BYTES, the server's 400",
    async () => {
      const { stdout } = await run(
        CLIENT_PYTHON,
        [DRIVER, new URL(url).host, "wms", join(work, "photo.jpg")],
        {
          timeout: 300_000,
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      const r = JSON.parse(stdout);
      expect(r).toMatchObject({ live: true, ready: true, model_ready: true });
      expect(r.extensions).toContain("binary_tensor_data");
      expect(r.fp32.shape).toEqual([1, 1, 512, 512]);
      expect(r.fp32.dtype).toBe("float32");
      expect(r.fp32.max_abs_diff_binary_vs_json).toBe(0);
      expect(r.fp32.max_abs_diff_named_vs_json).toBe(0);
      // the photo's mask is the one /predictions answers for the same bytes
      const direct = Buffer.from(
        await (await fetch(`${url}/predictions/wms`, { method: "POST", body: photo })).arrayBuffer(),
      );
      expect(Buffer.from(r.photo.mask_png_base64, "base64").equals(direct)).toBe(true);
      expect(r.photo.coverage).toHaveLength(1);
      expect(r.bad_shape.status).toBe("400");
      expect(r.bad_shape.message).toMatch(/input shape must be \[N,3,512,512\]/);
    },
    360_000,
  );

  it("answers binary outputs with Inference-Header-Content-Length, the same floats as the JSON answer", async () => {
    const x = floats(N, 1);
    const b = binaryBody({ ...INPUT(N * 4), parameters: { binary_data_output: true } }, le(x));
    const r = await post(b.body, { "inference-header-content-length": String(b.headerLength) });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    const n = Number(r.headers.get("inference-header-content-length"));
    const head = JSON.parse(r.bytes.subarray(0, n).toString());
    expect(head.outputs[0]).toMatchObject({
      name: "logits",
      shape: [1, 1, 512, 512],
      parameters: { binary_data_size: 512 * 512 * 4 },
    });
    expect(head.outputs[0].data).toBeUndefined();
    const raw = r.bytes.subarray(n);
    expect(raw.length).toBe(512 * 512 * 4);
    // the same tensor as JSON both ways
    const j = await post(
      Buffer.from(
        JSON.stringify({
          inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 512, 512], data: Array.from(x) }],
        }),
      ),
      {
        "content-type": "application/json",
      },
    );
    expect(j.status).toBe(200);
    const data = JSON.parse(j.bytes.toString()).outputs[0].data as number[];
    const got = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    expect(Array.from(got)).toEqual(data);
    // binary input, JSON output (no binary asked for)
    const plain = binaryBody(INPUT(N * 4), le(x));
    const p = await post(plain.body, { "inference-header-content-length": String(plain.headerLength) });
    expect(p.headers.get("content-type")).toMatch(/^application\/json/);
    expect(JSON.parse(p.bytes.toString()).outputs[0].data).toEqual(data);
  }, 120_000);

  it("a BYTES photo in binary form, its mask answered as binary BYTES", async () => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(photo.length);
    const b = binaryBody(
      {
        inputs: [
          {
            name: "input",
            datatype: "BYTES",
            shape: [1],
            parameters: { binary_data_size: 4 + photo.length },
          },
        ],
        outputs: [{ name: "mask", parameters: { binary_data: true } }],
      },
      len,
      photo,
    );
    const r = await post(b.body, {
      "inference-header-content-length": String(b.headerLength),
      "content-type": "application/octet-stream",
    });
    expect(r.status).toBe(200);
    const n = Number(r.headers.get("inference-header-content-length"));
    const head = JSON.parse(r.bytes.subarray(0, n).toString());
    expect(head.outputs.map((o: { name: string }) => o.name)).toEqual(["mask", "coverage"]);
    expect(head.outputs[1].data).toHaveLength(1); // coverage stays JSON: only the mask was asked for
    const raw = r.bytes.subarray(n);
    const pngLen = raw.readUInt32LE(0);
    expect(raw.length).toBe(4 + pngLen);
    expect(head.outputs[0].parameters.binary_data_size).toBe(raw.length);
    const direct = Buffer.from(
      await (await fetch(`${url}/predictions/wms`, { method: "POST", body: photo })).arrayBuffer(),
    );
    expect(raw.subarray(4).equals(direct)).toBe(true);
  }, 120_000);

  it("refuses malformed binary bodies with a 400 (or 413, 415) that says what is wrong", async () => {
    const x = le(floats(N, 2));
    const h = (n: number | string) => ({ "inference-header-content-length": String(n) });
    const nan = Buffer.from(x);
    nan.writeFloatLE(Number.NaN, 40);
    const okHead = binaryBody(INPUT(N * 4), x);
    const cases: [string, Buffer, Record<string, string>, number, RegExp][] = [
      ["header length not a number", okHead.body, h("12abc"), 400, /Inference-Header-Content-Length must be/],
      ["header length zero", okHead.body, h(0), 400, /Inference-Header-Content-Length must be/],
      ["header length past the body", okHead.body, h(okHead.body.length + 1), 400, /the body has only/],
      [
        "header length cuts the JSON",
        okHead.body,
        h(okHead.headerLength - 1),
        400,
        /JSON header .* is not JSON/,
      ],
      [
        "size that is not the shape's",
        binaryBody(INPUT(N * 4 - 4), x.subarray(4)).body,
        h(binaryBody(INPUT(N * 4 - 4)).headerLength),
        400,
        /need 3145728/,
      ],
      [
        "size past the bytes sent",
        binaryBody(INPUT(N * 4), x.subarray(8)).body,
        h(okHead.headerLength),
        400,
        /runs past/,
      ],
      [
        "bytes left over",
        Buffer.concat([okHead.body, Buffer.alloc(8)]),
        h(okHead.headerLength),
        400,
        /8 bytes of binary data .* belong to no input/,
      ],
      [
        "a NaN",
        binaryBody(INPUT(N * 4), nan).body,
        h(okHead.headerLength),
        400,
        /element 10 is not a finite number/,
      ],
      [
        "negative size",
        binaryBody(INPUT(-4), x).body,
        h(binaryBody(INPUT(-4)).headerLength),
        400,
        /binary_data_size must be a non-negative integer/,
      ],
      [
        "binary size without the header",
        okHead.body.subarray(0, okHead.headerLength),
        {},
        400,
        /no Inference-Header-Content-Length/,
      ],
      [
        "data and a binary size",
        binaryBody({ inputs: [{ ...INPUT(4).inputs[0], data: [1] }] }).body,
        h(binaryBody({ inputs: [{ ...INPUT(4).inputs[0], data: [1] }] }).headerLength),
        400,
        /both "data" and parameters.binary_data_size/,
      ],
      [
        "BYTES element past its tensor",
        binaryBody(
          { inputs: [{ name: "input", datatype: "BYTES", shape: [1], parameters: { binary_data_size: 6 } }] },
          Buffer.from([200, 0, 0, 0, 1, 2]),
        ).body,
        h(
          binaryBody({
            inputs: [{ name: "input", datatype: "BYTES", shape: [1], parameters: { binary_data_size: 6 } }],
          }).headerLength,
        ),
        400,
        /element 0 declares 200 bytes, 2 are left/,
      ],
      [
        "binary_data_output not a boolean",
        binaryBody({ ...INPUT(N * 4), parameters: { binary_data_output: "yes" } }, x).body,
        h(binaryBody({ ...INPUT(N * 4), parameters: { binary_data_output: "yes" } }).headerLength),
        400,
        /binary_data_output must be true or false/,
      ],
      [
        "over --max-json-bytes",
        Buffer.concat([okHead.body, Buffer.alloc(MAX_JSON_BYTES)]),
        h(okHead.headerLength),
        413,
        /exceeds the limit of 25165824/,
      ],
      ["header length over --max-json-bytes", okHead.body, h(MAX_JSON_BYTES + 1), 400, /1 to 25165824/],
      [
        "another media type",
        okHead.body,
        { ...h(okHead.headerLength), "content-type": "text/plain" },
        415,
        /Inference-Header-Content-Length/,
      ],
    ];
    for (const [name, body, headers, status, message] of cases) {
      const r = await post(body, headers);
      expect.soft(r.status, name).toBe(status);
      const text = r.bytes.toString();
      expect.soft(text.startsWith("{") ? JSON.parse(text).error : text, name).toMatch(message);
    }
    // and it still answers
    const ok = await post(okHead.body, h(okHead.headerLength));
    expect(ok.status).toBe(200);
  }, 180_000);
});
