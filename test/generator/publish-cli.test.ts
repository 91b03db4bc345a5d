/**
 * publish → deploy → verify through the CLI against a real S3-compatible server (moto_server
 * on loopback): the path a release takes from training to an environment.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainedModel } from "../store/helpers.ts";
import { fixtureCopy, runCli } from "../support/cli.ts";
import { type S3Server, startS3Server, TEST_CREDENTIALS } from "../support/s3-server.ts";

describe("publish, deploy, verify (CLI, real S3 server)", () => {
  let s3: S3Server;
  let env: Record<string, string>;
  beforeAll(async () => {
    s3 = await startS3Server();
    env = {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_REGION: "eu-central-1",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: "eu-central-1",
      forcePathStyle: true,
      credentials: TEST_CREDENTIALS,
    });
    await client.send(
      new CreateBucketCommand({
        Bucket: "wms-models",
        CreateBucketConfiguration: { LocationConstraint: "eu-central-1" },
      }),
    );
    client.destroy();
  });
  afterAll(() => s3?.stop());

  it("publishes, refuses different bytes for the same version, deploys, and verify catches tampering", async () => {
    const root = fixtureCopy("basic");
    const trained = await trainedModel(join(root, ".train"), { version: "1.3.0" });
    // a real release card: not an example, good enough for dev
    const card = {
      ...trained.card,
      example: undefined,
      metrics: { val: { iou: 0.92, dice: 0.95 }, test: { iou: 0.92, dice: 0.95 } },
    };
    writeFileSync(trained.cardPath, JSON.stringify(card));

    const p = runCli(
      [
        "publish",
        "--model",
        trained.modelPath,
        "--card",
        trained.cardPath,
        "--store",
        "s3://wms-models",
        "--root",
        root,
      ],
      { env },
    );
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(
      /^published: wms 1\.3\.0 sha256:[0-9a-f]{12} → s3:\/\/wms-models\/wms\/1\.3\.0\/model\.onnx$/m,
    );
    expect(
      runCli(
        [
          "publish",
          "--model",
          trained.modelPath,
          "--card",
          trained.cardPath,
          "--store",
          "s3://wms-models",
          "--root",
          root,
        ],
        { env },
      ).stdout,
    ).toMatch(/already published/);

    const other = await trainedModel(join(root, ".train2"), { version: "1.3.0" });
    const refused = runCli(
      [
        "publish",
        "--model",
        other.modelPath,
        "--card",
        other.cardPath,
        "--store",
        "s3://wms-models",
        "--root",
        root,
      ],
      { env },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^Error: /);

    const d = runCli(["deploy", "--env", "dev", "--version", "1.3.0", "--root", root], { env });
    expect(d.code, d.stderr).toBe(0);

    const v = runCli(["verify", "--env", "dev", "--root", root], { env });
    expect(v.code).toBe(4); // 1.0.0-1.2.0 are fixture cards that were never uploaded
    expect(v.stdout).toMatch(
      /^dev\s+wms\s+1\.3\.0\s+fp32\s+sha256:\S+\s+s3:\/\/wms-models\/wms\/1\.3\.0\/model\.onnx\s+ok$/m,
    );
    expect(v.stdout).toMatch(/^dev\s+wms\s+1\.1\.0\s.*PROBLEM$/m);
    expect(v.stderr).toMatch(/model\/releases\/wms\/1\.1\.0\/model-card\.json \[artifact\.uri\]/);
    // the same facts as one JSON document for scripts (docs/usage.md, "Scripting"), same exit code
    const vj = runCli(["verify", "--env", "dev", "--root", root, "--output", "json"], { env });
    expect(vj.code).toBe(4);
    const doc = JSON.parse(vj.stdout) as {
      command: string;
      checked: { version: string; precision: string; uri: string; ok: boolean }[];
      problems: { file?: string; field?: string }[];
    };
    expect(doc.command).toBe("verify");
    expect(doc.checked.find((c) => c.version === "1.3.0" && c.precision === "fp32")).toMatchObject({
      uri: "s3://wms-models/wms/1.3.0/model.onnx",
      ok: true,
    });
    expect(doc.checked.find((c) => c.version === "1.1.0")?.ok).toBe(false);
    expect(doc.problems.some((p) => p.field === "artifact.uri")).toBe(true);

    // only 1.3.0 deployed: verify passes; then tamper with the object and it fails
    writeFileSync(join(root, "environments/dev/wms.yaml"), "model: wms\nlive: 1.3.0\n");
    expect(runCli(["verify", "--env", "dev", "--root", root], { env }).code).toBe(0);
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: "eu-central-1",
      forcePathStyle: true,
      credentials: TEST_CREDENTIALS,
    });
    await client.send(
      new PutObjectCommand({
        Bucket: "wms-models",
        Key: "wms/1.3.0/model.onnx",
        Body: Buffer.from("tampered"),
      }),
    );
    const t = runCli(["verify", "--env", "dev", "--root", root], { env });
    expect(t.code).toBe(4);
    expect(t.stderr).toMatch(/\[artifact\.(bytes|sha256)\]/);

    // forged: other bytes of the same size, the original's sha256 metadata, no S3 checksum
    const artifact = JSON.parse(readFileSync(join(root, "model/releases/wms/1.3.0/model-card.json"), "utf8"))
      .artifact as { bytes: number; sha256: string };
    await client.send(
      new PutObjectCommand({
        Bucket: "wms-models",
        Key: "wms/1.3.0/model.onnx",
        Body: Buffer.alloc(artifact.bytes, 7),
        Metadata: { sha256: artifact.sha256 },
      }),
    );
    client.destroy();
    const f = runCli(["verify", "--env", "dev", "--root", root], { env });
    expect(f.code, f.stdout + f.stderr).toBe(4);
    expect(f.stderr).toMatch(
      /\[artifact\.sha256\] .*wms\/1\.3\.0\/model\.onnx is inconsistent: its content is sha256/,
    );
  }, 180_000); // a dozen CLI processes and an S3 server
});
