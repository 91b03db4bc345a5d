/** The test S3 server helper: it must fail loudly without moto, and not outlive its tests. */
import { describe, expect, it } from "vitest";
import { startS3Server } from "../support/s3-server.ts";

describe("startS3Server", () => {
  it("says how to set up when moto_server is missing, instead of skipping", async () => {
    await expect(startS3Server({ binary: "/nonexistent/.venv/bin/moto_server" })).rejects.toThrow(
      /moto_server is missing[\s\S]*Run the setup first[\s\S]*pip install/,
    );
  });

  it("serves S3 on loopback until stopped", async () => {
    const server = await startS3Server();
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(server.endpoint);
    expect(await res.text()).toContain("ListAllMyBucketsResult");
    await server.stop();
    await expect(fetch(server.endpoint)).rejects.toThrow();
  });
});
