/**
 * Shadow comparison: after a prediction has been answered, a sampled copy of the photo goes to
 * another version's server (`--shadow URL`), and the two masks are compared pixel by pixel.
 * It never delays or fails the live answer: it starts after the response is sent, at most
 * `maxInFlight` at a time (the rest are dropped and counted), each with a timeout, and every
 * failure is only counted. The bytes a copy holds (the photo, the live mask, the shadow's mask)
 * come out of the same in-flight budget as request bodies: a copy that does not fit is dropped,
 * never a live upload refused because shadows hold the memory. The metrics say how far the
 * other version would draw the counter window elsewhere, on real traffic: what error rates and
 * latency cannot show. The copy is only sent to the configured URL (no redirect), its reply
 * is read up to a bound set by the live mask's size, and the version label it reports is one
 * well-formed value per process.
 */
import sharp from "sharp";
import type { InflightBytes } from "./inflight-bytes.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Mask } from "./model/postprocess.ts";

export interface ShadowOptions {
  /** the other version's server, e.g. http://wms.wms-1-0-0.svc:8080 */
  url: string;
  /** share of answered predictions copied, in (0, 1] */
  sample: number;
  timeoutMs: number;
  maxInFlight: number;
}

export type ShadowResult = "compared" | "dropped" | "error" | "timeout";

const VERSION_LABEL = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$/;

/**
 * The most a shadow's PNG may take: the live mask's pixels at 4 bytes each (RGBA, stored
 * uncompressed) plus 64 KiB of PNG framing. A grey mask the size of the live one always fits.
 */
export const replyLimit = (live: { width: number; height: number }): number =>
  live.width * live.height * 4 + 65_536;

/** The body, or undefined once it passes `limit` bytes (the rest is not read: cancelled). */
async function readBounded(res: Response, limit: number): Promise<Buffer | undefined> {
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Intersection over union of two binary masks of one size (both empty: 1, they agree). */
export function maskIou(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`masks of ${a.length} and ${b.length} pixels`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = (a[i] as number) > 127;
    const y = (b[i] as number) > 127;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : inter / union;
}

export class Shadow {
  private inFlight = 0;
  /** settles when every comparison started so far has ended (tests, shutdown) */
  private pending = new Set<Promise<void>>();

  constructor(
    private readonly opts: ShadowOptions,
    private readonly metrics: ServerMetrics,
    /** the server's in-flight body budget (uploads); none: not counted */
    private readonly budget?: InflightBytes,
    private readonly random: () => number = Math.random,
  ) {
    if (!(opts.sample > 0 && opts.sample <= 1))
      throw new RangeError(`shadow sample ${opts.sample} is not in (0, 1]`);
  }

  /** Called after the live answer went out; returns at once. */
  offer(model: string, liveVersion: string, photo: Buffer, live: Mask): void {
    if (this.random() >= this.opts.sample) return;
    const hold = this.budget?.hold();
    if (this.inFlight >= this.opts.maxInFlight || (hold && !hold.add(photo.length + 2 * live.data.length))) {
      this.count(liveVersion, "unknown", "dropped");
      return;
    }
    this.inFlight++;
    const p = this.compare(model, liveVersion, photo, live).finally(() => {
      hold?.release();
      this.inFlight--;
      this.pending.delete(p);
    });
    this.pending.add(p);
  }

  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async compare(model: string, liveVersion: string, photo: Buffer, live: Mask): Promise<void> {
    let shadowVersion = "unknown";
    try {
      const res = await fetch(`${this.opts.url}/predictions/${encodeURIComponent(model)}`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", accept: "image/png" },
        body: photo,
        // the copy goes to the configured URL only: a redirect is an error, never followed
        redirect: "error",
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      shadowVersion = this.versionLabel(res.headers.get("x-model-version"));
      const png = await readBounded(res, replyLimit(live));
      if (!png || res.status !== 200) {
        this.count(liveVersion, shadowVersion, "error");
        return;
      }
      const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      if (info.width !== live.width || info.height !== live.height) {
        this.count(liveVersion, shadowVersion, "error");
        return;
      }
      const labels = { live_version: liveVersion, shadow_version: shadowVersion };
      const coverage = Number(res.headers.get("x-mask-coverage"));
      this.metrics.shadowAgreement.observe(labels, maskIou(live.data, data));
      if (Number.isFinite(coverage))
        this.metrics.shadowCoverageDelta.observe(labels, coverage - live.coverage);
      this.count(liveVersion, shadowVersion, "compared");
    } catch (err) {
      const name = (err as Error)?.name;
      this.count(
        liveVersion,
        shadowVersion,
        name === "TimeoutError" || name === "AbortError" ? "timeout" : "error",
      );
    }
  }

  /** the first well-formed version the shadow names; any other value: "unknown" */
  private shadowVersion?: string;

  /**
   * The shadow_version label, from the peer's x-model-version header: a version (at most 32
   * characters of [0-9A-Za-z.+-]) and always the same one for this process (the shadow URL is
   * one version's Service), so a peer cannot grow the metric's label set (issue 28).
   */
  private versionLabel(header: string | null): string {
    if (!header || !VERSION_LABEL.test(header)) return "unknown";
    this.shadowVersion ??= header;
    return header === this.shadowVersion ? header : "unknown";
  }

  private count(liveVersion: string, shadowVersion: string, result: ShadowResult): void {
    this.metrics.shadowRequests.inc({ live_version: liveVersion, shadow_version: shadowVersion, result });
  }
}
