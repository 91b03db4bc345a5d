/**
 * `--instances 2`: two 1-thread sessions side by side under load, one 2-thread session for a
 * lone request (session-pool.ts), on release 1.1.0 and dataset photos. Whichever session runs
 * a photo, its mask is the one the single-session server gives.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server.ts";
import {
  datasetImages,
  datasetUnavailable,
  modelUnavailable,
  newestShippedRelease,
} from "./support/model.ts";
import { testServer } from "./support/server.ts";

const skip = modelUnavailable() ?? datasetUnavailable();
if (skip) console.warn(`SKIP --instances tests: ${skip}`);

/** wms_inference_batches_total by session kind, read from /metrics */
async function batches(server: RunningServer): Promise<Record<"wide" | "narrow", number>> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const count = (kind: string): number => {
    const m = new RegExp(`^wms_inference_batches_total\\{session="${kind}"\\} (\\d+)$`, "m").exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { wide: count("wide"), narrow: count("narrow") };
}

async function predict(server: RunningServer, photo: Buffer): Promise<Buffer> {
  const r = await fetch(`${server.url}/predictions/wms`, { method: "POST", body: photo });
  expect(r.status).toBe(200);
  return Buffer.from(await r.arrayBuffer());
}

describe.skipIf(skip !== null)("--instances 2", () => {
  let one: RunningServer;
  let two: RunningServer;
  let photos: Buffer[];

  beforeAll(async () => {
    const model = newestShippedRelease();
    one = await testServer({ model, threads: 2 });
    two = await testServer({ model, threads: 2, instances: 2 });
    await Promise.all([one.loaded, two.loaded]);
    photos = await Promise.all(
      datasetImages()
        .slice(0, 4)
        .map((f) => readFile(f)),
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all([one?.shutdown(), two?.shutdown()]);
  });

  it("runs a lone request on the wide session and concurrent ones on the narrow sessions, with the same masks", async () => {
    const expected: Buffer[] = [];
    for (const p of photos) expected.push(await predict(one, p));

    const before = await batches(two);
    const alone = await predict(two, photos[0] as Buffer);
    expect(await batches(two)).toEqual({ wide: before.wide + 1, narrow: before.narrow });
    expect(alone.equals(expected[0] as Buffer)).toBe(true);

    const together = await Promise.all(photos.map((p) => predict(two, p)));
    expect((await batches(two)).narrow).toBeGreaterThanOrEqual(before.narrow + 2);
    together.forEach((png, i) => {
      expect(png.equals(expected[i] as Buffer), `photo ${i}`).toBe(true);
    });
  }, 120_000);
});
