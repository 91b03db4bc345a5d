/**
 * The model store the real pods download from: moto's S3 server (the same launcher the other
 * tests use, test/support/moto_server.py) listening on the host end of the hub node's veth pair,
 * an address `up` created, so that pods on either node reach it (their nodes route to the host)
 * while nothing outside this machine can. `up` uploads every release in model/releases/ that
 * ships its model file to the URI its card names (the card's artifact.uri and variants.int8.uri,
 * as `gen publish` would have), with S3's SHA-256 checksum. The example releases (cards marked
 * "example": true, 0.1.0 and 0.2.0, which the delivery scenarios deploy) ship no model file: their
 * seeded, untrained U-Net is exported again by training's own `export-untrained` (seed and size
 * from the card) into .tools/example-releases/, and uploaded only when its sha256 is the card's.
 *
 * What stands in for IRSA: EKS's pod identity webhook gives pods whose ServiceAccount names a role
 * a web-identity token and AWS_ROLE_ARN; here a MutatingAdmissionPolicy (the API server's own
 * admission, GA in 1.36) gives every pod labelled app.kubernetes.io/part-of=wms moto's static
 * credentials and the S3 endpoint as environment variables. The product's manifests are the same.
 */

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { NODE_NET, PORTS, REPO_ROOT, TOOLS } from "./layout.ts";
import { start } from "./processes.ts";

/** moto accepts any credentials; these are what the pods get (see s3AccessPolicy). */
export const S3_CREDENTIALS = { accessKeyId: "e2e-moto", secretAccessKey: "e2e-moto-secret" };
const REGION = "eu-central-1";

export function s3Endpoint(): string {
  return `http://${NODE_NET.hub.hostIp}:${PORTS.s3}`;
}

export function startModelStore(): void {
  const python = join(REPO_ROOT, ".venv/bin/python");
  if (!existsSync(python)) throw new Error(`${python} missing: run bash scripts/setup.sh (moto's S3 server)`);
  start(
    "s3-moto",
    python,
    [join(REPO_ROOT, "test/support/moto_server.py"), "-H", NODE_NET.hub.hostIp, "-p", String(PORTS.s3)],
    { cwd: REPO_ROOT },
  );
}

interface Artifact {
  uri: string;
  sha256: string;
}

interface Card {
  version: string;
  example?: boolean;
  training?: { params?: { seed?: number; input_size?: number } };
  artifact?: Artifact;
  variants?: { int8?: Artifact };
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * The model file of an example release that ships none: exported again from its seed (cached in
 * .tools/example-releases/<model>/<version>/), or undefined for a card that is not an example.
 * Throws when the export does not reproduce the card's sha256 (another torch would).
 */
export function exampleModel(model: string, dir: string, card: Card): string | undefined {
  const seed = card.training?.params?.seed;
  const size = card.training?.params?.input_size;
  if (!card.example || !card.artifact || seed === undefined || size === undefined) return undefined;
  const out = join(TOOLS, "example-releases", model, card.version);
  const file = join(out, "model.onnx");
  if (!existsSync(file) || sha256(readFileSync(file)) !== card.artifact.sha256) {
    execFileSync(
      join(REPO_ROOT, ".venv/bin/python"),
      [
        "-m",
        "wms_training",
        "export-untrained",
        "--out",
        out,
        "--size",
        String(size),
        "--seed",
        String(seed),
        "--version",
        card.version,
      ],
      { cwd: join(REPO_ROOT, "model/training"), stdio: ["ignore", "ignore", "pipe"] },
    );
  }
  const got = sha256(readFileSync(file));
  if (got !== card.artifact.sha256)
    throw new Error(
      `${join(dir, "model-card.json")}: export-untrained --seed ${seed} gave sha256 ${got}, the card says ${card.artifact.sha256}`,
    );
  return file;
}

/** Upload each shipped release file to its card's URI; returns what was uploaded. */
export async function uploadReleases(): Promise<string[]> {
  const s3 = new S3Client({
    region: REGION,
    endpoint: s3Endpoint(),
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
  });
  const uploaded: string[] = [];
  const releases = join(REPO_ROOT, "model/releases");
  const buckets = new Set<string>();
  for (const model of readdirSync(releases)) {
    for (const version of readdirSync(join(releases, model))) {
      const dir = join(releases, model, version);
      const card = JSON.parse(readFileSync(join(dir, "model-card.json"), "utf8")) as Card;
      const shipped = (f: string) => (existsSync(join(dir, f)) ? join(dir, f) : undefined);
      const files: [string | undefined, Artifact | undefined][] = [
        [shipped("model.onnx") ?? exampleModel(model, dir, card), card.artifact],
        [shipped("model.int8.onnx"), card.variants?.int8],
      ];
      for (const [file, artifact] of files) {
        if (!artifact || !file) continue;
        const body = readFileSync(file);
        const sha = sha256(body);
        if (sha !== artifact.sha256)
          throw new Error(`${file}: sha256 ${sha} but its card says ${artifact.sha256}`);
        const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(artifact.uri);
        if (!m?.[1] || !m[2])
          throw new Error(`${join(dir, "model-card.json")}: not an s3:// uri: ${artifact.uri}`);
        const [, bucket, key] = m;
        if (!buckets.has(bucket)) {
          await s3.send(new HeadBucketCommand({ Bucket: bucket })).catch(() =>
            s3.send(
              new CreateBucketCommand({
                Bucket: bucket,
                CreateBucketConfiguration: { LocationConstraint: REGION },
              }),
            ),
          );
          buckets.add(bucket);
        }
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ChecksumSHA256: createHash("sha256").update(body).digest("base64"),
          }),
        );
        uploaded.push(artifact.uri);
      }
    }
  }
  return uploaded;
}

/** The IRSA stand-in (see the module comment): applied to every cluster by `up`. */
export function s3AccessPolicy(): unknown[] {
  const env = {
    AWS_ENDPOINT_URL_S3: s3Endpoint(),
    AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
  };
  const envCel = Object.entries(env)
    .map(([k, v]) => `Object.spec.containers.env{name: "${k}", value: "${v}"}`)
    .join(", ");
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingAdmissionPolicy",
      metadata: { name: "e2e-irsa-stand-in" },
      spec: {
        failurePolicy: "Fail",
        reinvocationPolicy: "Never",
        matchConstraints: {
          objectSelector: { matchLabels: { "app.kubernetes.io/part-of": "wms" } },
          resourceRules: [
            { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] },
          ],
        },
        mutations: [
          {
            patchType: "ApplyConfiguration",
            applyConfiguration: {
              expression: `Object{spec: Object.spec{containers: object.spec.containers.map(c, Object.spec.containers{name: c.name, env: [${envCel}]})}}`,
            },
          },
        ],
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingAdmissionPolicyBinding",
      metadata: { name: "e2e-irsa-stand-in" },
      spec: { policyName: "e2e-irsa-stand-in" },
    },
  ];
}
