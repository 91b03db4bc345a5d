/**
 * The model store the real pods download from: moto's S3 server (the same launcher the other
 * tests use, test/support/moto_server.py) listening on the host end of the hub node's veth pair,
 * an address `up` created, so that pods on either node reach it (their nodes route to the host)
 * while nothing outside this machine can. `up` uploads every release in model/releases/ that
 * ships its model file to the URI its card names (the card's artifact.uri and variants.int8.uri,
 * as `gen publish` would have), with S3's SHA-256 checksum.
 *
 * What stands in for IRSA: EKS's pod identity webhook gives pods whose ServiceAccount names a role
 * a web-identity token and AWS_ROLE_ARN; here a MutatingAdmissionPolicy (the API server's own
 * admission, GA in 1.36) gives every pod labelled app.kubernetes.io/part-of=wms moto's static
 * credentials and the S3 endpoint as environment variables. The product's manifests are the same.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { NODE_NET, PORTS, REPO_ROOT } from "./layout.ts";
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
      const card = JSON.parse(readFileSync(join(dir, "model-card.json"), "utf8")) as {
        artifact?: Artifact;
        variants?: { int8?: Artifact };
      };
      const files: [string, Artifact | undefined][] = [
        ["model.onnx", card.artifact],
        ["model.int8.onnx", card.variants?.int8],
      ];
      for (const [file, artifact] of files) {
        if (!artifact || !existsSync(join(dir, file))) continue;
        const body = readFileSync(join(dir, file));
        const sha = createHash("sha256").update(body).digest("hex");
        if (sha !== artifact.sha256)
          throw new Error(`${join(dir, file)}: sha256 ${sha} but its card says ${artifact.sha256}`);
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
