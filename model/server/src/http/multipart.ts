/**
 * multipart/form-data, just enough for one uploaded image. The body is already in memory and
 * size-limited (body.ts), so a buffer scan is simpler and safer than a streaming parser.
 */
import { BadInputError } from "../errors.ts";

export interface Part {
  name: string | undefined;
  filename: string | undefined;
  contentType: string | undefined;
  data: Buffer;
}

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new BadInputError("multipart body does not contain its boundary");
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // closing "--boundary--"
    if (!body.subarray(pos, pos + 2).equals(CRLF))
      throw new BadInputError("malformed multipart boundary line");
    pos += 2;
    const headerEnd = body.indexOf(HEADER_END, pos);
    if (headerEnd < 0) throw new BadInputError("multipart part without a header end");
    const headers = parseHeaders(body.subarray(pos, headerEnd).toString("latin1"));
    const start = headerEnd + HEADER_END.length;
    const next = body.indexOf(Buffer.concat([CRLF, delimiter]), start);
    if (next < 0) throw new BadInputError("multipart body is truncated (no closing boundary)");
    const disposition = headers.get("content-disposition") ?? "";
    parts.push({
      name: param(disposition, "name"),
      filename: param(disposition, "filename"),
      contentType: headers.get("content-type"),
      data: body.subarray(start, next),
    });
    pos = next + CRLF.length;
  }
}

function parseHeaders(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) map.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return map;
}

function param(header: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${key}="([^"]*)"|(?:^|;)\\s*${key}=([^;\\s]+)`, "i").exec(header);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Field names TorchServe clients use for the payload, then any part that carries a file. */
const IMAGE_FIELDS = ["data", "body", "file", "image"];

export function imagePart(parts: Part[]): Buffer {
  const named = parts.find((p) => p.name !== undefined && IMAGE_FIELDS.includes(p.name) && p.data.length > 0);
  const file = named ?? parts.find((p) => p.filename !== undefined);
  if (!file) {
    throw new BadInputError(
      `multipart body has no file part (send the image as a file, or in a field named ${IMAGE_FIELDS.join(", ")})`,
    );
  }
  return file.data;
}
