/**
 * The product on a real node: Argo CD syncs the dev environment onto the hub's real worker
 * (containerd + runc + kubelet + kube-proxy, cluster/node.ts), the model server image built here
 * from model/server/Dockerfile's steps runs under the rendered securityContext, downloads its
 * release from the S3 server and verifies its sha256, becomes Ready from its own readiness probe,
 * and answers a photo POSTed from the host to its Service's ClusterIP (kube-proxy's rules in the
 * node's network namespace) with a valid mask.
 *
 *   npm run cluster -- up && npx vitest run --config vitest.e2e.config.ts test/e2e/realnode.e2e.test.ts
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { jpegPhoto } from "../../model/server/test/support/images.ts";
import { CLUSTER_INFO, NODE_NAME, REPO_ROOT } from "./cluster/layout.ts";
import { clients, eventually, HUB, LOCAL } from "./support.ts";

interface ClusterInfo {
  realNodeOnly?: string[];
  serverImage?: string;
}

const info: ClusterInfo = existsSync(CLUSTER_INFO) ? JSON.parse(readFileSync(CLUSTER_INFO, "utf8")) : {};
/** Only the local cluster has the real node this file is about. */
const realHub = LOCAL && (info.realNodeOnly ?? []).includes("hub");

/** dev's live version, from the repository as seeded (environments/dev/wms.yaml). */
const DEV_VERSION = /^live:\s*(\S+)/m.exec(
  readFileSync(join(REPO_ROOT, "environments/dev/wms.yaml"), "utf8"),
)?.[1];
const namespace = `dev-wms-${DEV_VERSION?.replaceAll(".", "-")}`;
const card = JSON.parse(
  readFileSync(join(REPO_ROOT, `model/releases/wms/${DEV_VERSION}/model-card.json`), "utf8"),
) as { artifact: { sha256: string }; variants?: { int8?: { sha256: string } } };

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string; containers: { name: string; image: string }[] };
  status: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      started?: boolean;
      imageID: string;
      restartCount: number;
    }[];
  };
}

// Skipped when `up` kept dev's pods on kwok (E2E_REAL_NODE_ONLY=none) or against another cluster
// (E2E_KUBECONFIG): there is no real node of ours to look at.
describe.skipIf(!realHub)("real node: dev's model server serves a photo through its Service", () => {
  let pod: Pod;

  beforeAll(async () => {
    // Argo CD's first sync of everything after `up` (waves) takes minutes here
    pod = await eventually(
      `a Ready model server pod in ${namespace} on ${NODE_NAME.hub}`,
      async () => {
        const list = await clients(HUB).core.listNamespacedPod({
          namespace,
          labelSelector: "app.kubernetes.io/name=wms",
        });
        const pods = list.items as unknown as Pod[];
        if (pods.length === 0) return "no pod yet";
        const ready = pods.find((p) =>
          p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return (
          ready ??
          pods
            .map((p) => `${p.metadata.name} ${p.spec.nodeName ?? "unscheduled"} ${p.status.phase}`)
            .join("; ")
        );
      },
      600_000,
    );
  }, 660_000);

  it("runs on the real node, from the image built here, Ready by its own probe", () => {
    expect(pod.spec.nodeName).toBe(NODE_NAME.hub);
    const c = pod.status.containerStatuses?.find((s) => s.name === "server");
    expect(c?.ready).toBe(true);
    expect(c?.started).toBe(true);
    // the image the operator commit pinned (environment.yaml server.image), by digest
    expect(pod.spec.containers[0]?.image).toBe(info.serverImage);
    expect(c?.imageID).toContain(info.serverImage?.split("@")[1]);
  });

  it("answers a photo POSTed to its Service's ClusterIP with a valid mask from the verified release", async () => {
    const svc = await clients(HUB).core.readNamespacedService({ name: "wms", namespace });
    const ip = svc.spec?.clusterIP;
    expect(ip).toMatch(/^10\.\d+\.\d+\.\d+$/);
    const photo = await jpegPhoto(640, 480);
    const res = await fetch(`http://${ip}:8080/predictions/wms`, {
      method: "POST",
      body: photo,
      headers: { "content-type": "image/jpeg", accept: "application/json" },
      signal: AbortSignal.timeout(60_000),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-model-version")).toBe(DEV_VERSION);
    const j = (await res.json()) as {
      model: { name: string; version: string; sha256: string };
      width: number;
      height: number;
      mask: { contentType: string; base64: string };
    };
    // the server loaded the file the Deployment pins (fp32 or the int8 variant render chose),
    // one the card names; it refuses any other bytes
    const d = await clients(HUB).objects.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "wms", namespace },
    });
    const pinned = d.metadata?.annotations?.["wms.example/model-sha256"];
    expect([card.artifact.sha256, card.variants?.int8?.sha256]).toContain(pinned);
    expect(j.model).toEqual({ name: "wms", version: DEV_VERSION, sha256: pinned });
    expect([j.width, j.height]).toEqual([640, 480]);
    // a one-band (greyscale) PNG; sharp's raw output would convert it to sRGB, so read the band
    const png = Buffer.from(j.mask.base64, "base64");
    const m = await sharp(png).metadata();
    expect([m.format, m.width, m.height, m.channels]).toEqual(["png", 640, 480, 1]);
    const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect([...new Set(data)].every((v) => v === 0 || v === 255)).toBe(true);
  });
});
