/** Images and raw HTTP made up in the tests (no binary fixtures). */
import { connect } from "node:net";
import { deflateSync } from "node:zlib";
import sharp from "sharp";

/** A noisy photo-like JPEG; `orientation` sets the EXIF tag (6 = displayed rotated 90 degrees). */
export async function jpegPhoto(width: number, height: number, orientation = 1): Promise<Buffer> {
  const img = sharp({
    create: {
      width,
      height,
      channels: 3,
      background: "#000",
      noise: { type: "gaussian", mean: 128, sigma: 40 },
    },
  });
  return (orientation === 1 ? img : img.withMetadata({ orientation })).jpeg({ quality: 90 }).toBuffer();
}

export function pngImage(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: "#884422" } })
    .png()
    .toBuffer();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const v of b) c = (CRC_TABLE[(c ^ v) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A well-formed PNG header that declares width x height, with a tiny IDAT: a decompression bomb's shape. */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from("\x89PNG\r\n\x1a\n", "latin1"),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.alloc(1024))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Flip one byte inside the first IDAT's data, leaving its CRC as it was. */
export function corruptPngCrc(png: Buffer): Buffer {
  const out = Buffer.from(png);
  const at = out.indexOf("IDAT", 8, "latin1");
  out[at + 4 + 2] = (out[at + 4 + 2] as number) ^ 0xff;
  return out;
}

export interface RawResponse {
  status: number;
  head: string;
  body: string;
  ms: number;
}

/**
 * HTTP/1.1 over a bare socket, for requests no well-behaved client would send. `write` gets the
 * socket and sends whatever it likes; the response is whatever comes back before the close.
 */
export function rawExchange(
  port: number,
  write: (s: import("node:net").Socket, done: () => boolean) => void | Promise<void>,
  timeoutMs = 5000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, "127.0.0.1");
    let data = "";
    let firstByteMs = -1;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const [head = "", body = ""] = data.split("\r\n\r\n", 2);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (!status) reject(new Error(`no HTTP response (got ${JSON.stringify(data.slice(0, 200))})`));
      else resolve({ status, head, body, ms: firstByteMs });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on("data", (d) => {
      if (firstByteMs < 0) firstByteMs = performance.now() - started;
      data += d.toString("latin1");
      // One response is all we want: stop once its declared body is in.
      const [head, body] = data.split("\r\n\r\n", 2);
      const len = /content-length: (\d+)/i.exec(head ?? "")?.[1];
      if (body !== undefined && len !== undefined && Buffer.byteLength(body, "latin1") >= Number(len))
        finish();
    });
    socket.on("error", () => {}); // EPIPE/ECONNRESET while we still write: the response is what counts
    socket.on("close", finish);
    socket.on("connect", () => {
      void write(socket, () => finished);
    });
  });
}

/** A complete request with the given headers and body. */
export function request(
  method: string,
  path: string,
  headers: Record<string, string | number>,
  body?: Buffer,
): Buffer {
  const lines = [
    `${method} ${path} HTTP/1.1`,
    "Host: 127.0.0.1",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body ?? Buffer.alloc(0)]);
}

/** A connected socket, so that timing a request excludes the TCP handshake. */
export function openSocket(port: number): Promise<import("node:net").Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

/** Send one request on an open socket; time from the write to the response's first byte. */
export function exchange(
  socket: import("node:net").Socket,
  req: Buffer,
  timeoutMs = 10_000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let data = "";
    let firstByteMs = -1;
    const started = performance.now();
    const timer = setTimeout(() => done(), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      const [head = "", body = ""] = data.split("\r\n\r\n", 2);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (!status) reject(new Error(`no HTTP response (got ${JSON.stringify(data.slice(0, 200))})`));
      else resolve({ status, head, body, ms: firstByteMs });
    };
    const onData = (d: Buffer) => {
      if (firstByteMs < 0) firstByteMs = performance.now() - started;
      data += d.toString("latin1");
      const [head, body] = data.split("\r\n\r\n", 2);
      const len = /content-length: (\d+)/i.exec(head ?? "")?.[1];
      const interim = body !== undefined && /^HTTP\/1\.1 1\d\d/.test(head ?? ""); // 100 Continue: no body
      if (
        interim ||
        (body !== undefined && len !== undefined && Buffer.byteLength(body, "latin1") >= Number(len))
      )
        done();
    };
    socket.on("data", onData);
    socket.on("error", () => {});
    socket.write(req);
  });
}

/**
 * A valid progressive grey JPEG of `side` x `side` (a multiple of 128) whose every AC
 * coefficient gets its own first scan and 13 successive-approximation refinements:
 * 1 + 63 x 14 = 883 scans in a few tens of KB. The image is flat, so each AC scan is a few
 * end-of-band runs over all blocks, yet a decoder walks every block in every scan: decoding
 * costs far more than the size suggests, as with the review's 900-scan JPEG.
 */
export function manyScanJpeg(side = 2048): Buffer {
  const blocks = (side / 8) ** 2;
  if (side % 128 !== 0) throw new Error("side must be a multiple of 128 (whole EOB14 runs of 16384 blocks)");
  const seg = (marker: number, body: number[]) => [
    0xff,
    marker,
    (body.length + 2) >> 8,
    (body.length + 2) & 255,
    ...body,
  ];
  /** bits MSB first, padded with ones to a byte (no 0xFF can occur: the data is mostly zeros) */
  const bits = (s: string) => {
    const padded = s + "1".repeat((8 - (s.length % 8)) % 8);
    return Array.from({ length: padded.length / 8 }, (_, i) =>
      Number.parseInt(padded.slice(i * 8, i * 8 + 8), 2),
    );
  };
  const out: number[] = [0xff, 0xd8];
  out.push(...seg(0xdb, [0x00, ...Array(64).fill(1)])); // DQT: table 0, all ones
  out.push(...seg(0xc2, [8, side >> 8, side & 255, side >> 8, side & 255, 1, 1, 0x11, 0])); // SOF2, 1 component
  // DHT: DC table 0 with one code ("0") for category 0; AC table 0 with one code ("0") for EOB14
  const oneCode = (tc: number, symbol: number) => [tc << 4, 1, ...Array(15).fill(0), symbol];
  out.push(...seg(0xc4, [...oneCode(0, 0x00), ...oneCode(1, 0xe0)]));
  const sos = (ss: number, se: number, ah: number, al: number) =>
    seg(0xda, [1, 1, 0x00, ss, se, (ah << 4) | al]);
  // DC first scan, no point transform: a "0" (diff category 0) per block
  out.push(...sos(0, 0, 0, 0), ...bits("0".repeat(blocks)));
  // each AC scan: per 16384 blocks the code "0" + 14 extra bits of zero (EOBRUN = 2^14)
  const runs = bits("0".repeat(15 * (blocks / 16384)));
  for (let k = 1; k <= 63; k++) {
    out.push(...sos(k, k, 0, 13), ...runs);
    for (let al = 12; al >= 0; al--) out.push(...sos(k, k, al + 1, al), ...runs);
  }
  out.push(0xff, 0xd9);
  return Buffer.from(out);
}
