/**
 * Precision per environment. Without `precision`, each version serves its int8 variant where
 * that scores within gates.maxInt8IouDrop of fp32 on val and test, fp32 otherwise, and render's
 * summary says which and why. `precision: fp32` pins fp32; `precision: int8` pins each version's
 * int8 variant (URI and sha256 in the Deployment), and render refuses a version whose card has
 * no int8 variant or one that scores further below fp32 than gates.maxInt8IouDrop, naming the metric.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { fixtureCopy, runCli, snapshotTree } from "../support/cli.ts";

const card = (root: string, version: string) => join(root, `model/releases/wms/${version}/model-card.json`);

/** give `version`'s card an int8 variant scoring `drop` IoU below fp32 on val and test */
function addInt8(root: string, version: string, drop: { val: number; test: number }) {
  const c = JSON.parse(readFileSync(card(root, version), "utf8"));
  c.variants = {
    int8: {
      precision: "int8",
      uri: c.artifact.uri.replace(/model\.onnx$/, "model.int8.onnx"),
      sha256: "ab".repeat(32),
      bytes: 2_000_000,
      format: "onnx",
      opset: 17,
      metrics: {
        val: { iou: c.metrics.val.iou - drop.val, dice: c.metrics.val.dice, n: 123 },
        test: { iou: c.metrics.test.iou - drop.test, dice: c.metrics.test.dice, n: 100 },
      },
      calibration: { images: 64, method: "minmax", selection: "spread", reduceRange: true },
    },
  };
  writeFileSync(card(root, version), JSON.stringify(c, null, 2));
}

/** set (or replace) the top-level `precision:` line of dev's environment.yaml */
function setPrecision(root: string, extra: string) {
  const file = join(root, "environments/dev/environment.yaml");
  writeFileSync(file, `${readFileSync(file, "utf8").replace(/^precision: .*\n/m, "")}${extra}`);
}

const deploymentArgs = (root: string, version: string): string[] =>
  parse(readFileSync(join(root, `environments/dev/rendered/wms-${version}/deployment.wms.yaml`), "utf8")).spec
    .template.spec.containers[0].args;

describe("precision per environment", () => {
  it("without precision: int8 where the gate passes, fp32 where the card has no int8 or it drops too far; the summary says why", () => {
    const root = fixtureCopy("basic");
    addInt8(root, "1.0.0", { val: 0.001, test: 0.0154 }); // outside the default 0.005
    addInt8(root, "1.1.0", { val: 0.001, test: 0.004 });
    const r = runCli(["render", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    const args = deploymentArgs(root, "1.1.0");
    expect(args[args.indexOf("--model") + 1]).toBe("s3://wms-models/wms/1.1.0/model.int8.onnx");
    expect(args[args.indexOf("--sha256") + 1]).toBe("ab".repeat(32));
    const old = deploymentArgs(root, "1.0.0");
    expect(old[old.indexOf("--model") + 1]).toBe("s3://wms-models/wms/1.0.0/model.onnx");
    const canary = deploymentArgs(root, "1.2.0");
    expect(canary[canary.indexOf("--model") + 1]).toBe("s3://wms-models/wms/1.2.0/model.onnx");
    const dev = r.stdout.split("\n").find((l) => l.startsWith("dev ")) ?? "";
    expect(dev).toContain("1.1.0 int8 (int8 IoU drop 0.0010 val, 0.0040 test <= 0.005)");
    expect(dev).toContain("1.0.0 fp32 (int8 test IoU drop 0.0154 > 0.005)");
    expect(dev).toContain("1.2.0 fp32 (no int8 variant)");
    expect(r.stdout).toMatch(
      /^ENV\s+MODEL\s+LIVE\s+CANARY\s+RETAINED\s+TEST IOU\/DICE\s+MODEL DIGEST\s+SERVES\s+CHANGES$/m,
    );
  });

  it("precision: int8 pins every version's int8 variant; precision: fp32 pins the fp32 artifact", () => {
    const root = fixtureCopy("basic");
    for (const v of ["1.0.0", "1.1.0", "1.2.0"]) addInt8(root, v, { val: 0.001, test: 0.004 });
    setPrecision(root, "precision: fp32\n");
    const fp32 = runCli(["render", "--root", root]);
    expect(fp32.code, fp32.stderr).toBe(0);
    expect(fp32.stdout).toContain("1.1.0 fp32 (precision: fp32 in environments/dev/environment.yaml)");
    const fp32Card = JSON.parse(readFileSync(card(root, "1.1.0"), "utf8"));
    expect(deploymentArgs(root, "1.1.0")).toEqual(
      expect.arrayContaining([fp32Card.artifact.uri, fp32Card.artifact.sha256]),
    );

    setPrecision(root, "precision: int8\n");
    const r = runCli(["render", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    const args = deploymentArgs(root, "1.1.0");
    const model = args[args.indexOf("--model") + 1];
    const sha = args[args.indexOf("--sha256") + 1];
    expect(model).toBe("s3://wms-models/wms/1.1.0/model.int8.onnx");
    // the summary shows what is served: the int8 digest and scores
    expect(r.stdout).toMatch(/^dev\s+wms\s+1\.1\.0\s.*0\.906\/0\.950\s+sha256:abababababab\s/m);
    expect(sha).toBe("ab".repeat(32));
    const dep = parse(
      readFileSync(join(root, "environments/dev/rendered/wms-1.1.0/deployment.wms.yaml"), "utf8"),
    );
    expect(dep.metadata.annotations["wms.example/precision"]).toBe("int8");
    expect(dep.spec.template.metadata.annotations["wms.example/model-uri"]).toBe(model);
  });

  it("refuses an int8 variant outside the tolerance, naming the version, split, metric and numbers", () => {
    const root = fixtureCopy("basic");
    addInt8(root, "1.0.0", { val: 0.001, test: 0.0154 });
    addInt8(root, "1.1.0", { val: 0.001, test: 0.001 });
    addInt8(root, "1.2.0", { val: 0.001, test: 0.001 });
    setPrecision(root, "precision: int8\n");
    const before = snapshotTree(join(root, "environments"));
    const r = runCli(["render", "--root", root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /environments\/dev\/wms\.yaml:4 \[retain\[0\]\] precision gate of dev: 1\.0\.0's int8 test IoU 0\.\d{4} is 0\.0154 below fp32's 0\.\d{4} \(variants\.int8\.metrics\.test\.iou; tolerance gates\.maxInt8IouDrop 0\.005\)/,
    );
    expect(r.stderr).toMatch(/fix: serve 1\.0\.0 at fp32/);
    expect(snapshotTree(join(root, "environments"))).toEqual(before);

    // a wider tolerance in environment.yaml lets it through
    const file = join(root, "environments/dev/environment.yaml");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace("  minTestDice: 0\n", "  minTestDice: 0\n  maxInt8IouDrop: 0.02\n"),
    );
    const wider = runCli(["render", "--root", root]);
    expect(wider.code, wider.stderr).toBe(0);
  });

  it("judges the quality gates on the int8 scores when int8 is served", () => {
    const root = fixtureCopy("basic");
    // fixture cards: fp32 test IoU 1.1.0 (live) 0.91, 1.2.0 (canary) 0.93; int8 0.004 below
    for (const v of ["1.0.0", "1.1.0", "1.2.0"]) addInt8(root, v, { val: 0.001, test: 0.004 });
    const file = join(root, "environments/dev/environment.yaml");
    const c = JSON.parse(readFileSync(card(root, "1.1.0"), "utf8"));
    const between = (c.metrics.test.iou + c.variants.int8.metrics.test.iou) / 2;
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace("  minTestIoU: 0\n", `  minTestIoU: ${between}\n`),
    );
    setPrecision(root, "precision: fp32\n");
    expect(runCli(["render", "--root", root]).code).toBe(0); // fp32 passes the gate
    setPrecision(root, "precision: int8\n");
    const r = runCli(["render", "--root", root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[live\] quality gate of dev: 1\.1\.0 has test IoU 0\.\d+ < required/);
  });

  it("refuses int8 for a version whose card has no int8 variant", () => {
    const root = fixtureCopy("basic");
    addInt8(root, "1.1.0", { val: 0, test: 0 });
    addInt8(root, "1.2.0", { val: 0, test: 0 });
    setPrecision(root, "precision: int8\n");
    const r = runCli(["render", "--root", root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /\[retain\[0\]\] precision gate of dev: environments\/dev\/environment\.yaml sets precision: int8, and 1\.0\.0's card has no int8 artifact/,
    );
  });

  it("rejects an unknown precision with the schema's choices", () => {
    const root = fixtureCopy("basic");
    setPrecision(root, "precision: int4\n");
    const r = runCli(["render", "--root", root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/environments\/dev\/environment\.yaml:\d+ \[precision\]/);
    expect(r.stderr).toMatch(/\[precision\] "int4" is not one of "fp32", "int8"/);
  });
});

describe("server.instances", () => {
  it("renders --instances only when more than one session is asked for", () => {
    const root = fixtureCopy("basic");
    const r = runCli(["render", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    expect(deploymentArgs(root, "1.1.0")).not.toContain("--instances");

    const file = join(root, "environments/dev/environment.yaml");
    writeFileSync(
      file,
      readFileSync(file, "utf8")
        .replace(/^ {2}threads: 1 .*$/m, "  threads: 2\n  instances: 2")
        .replace('limits: { cpu: "1", memory: 1Gi }', 'limits: { cpu: "2", memory: 2Gi }'),
    );
    const two = runCli(["render", "--root", root]);
    expect(two.code, two.stderr).toBe(0);
    const args = deploymentArgs(root, "1.1.0");
    expect(args.slice(args.indexOf("--threads"), args.indexOf("--threads") + 4)).toEqual([
      "--threads",
      "2",
      "--instances",
      "2",
    ]);
  });
});

describe("server.exactPreprocess", () => {
  it("renders --exact-preprocess only when set: the decode at the model's scale is the server's default", () => {
    const root = fixtureCopy("basic");
    const r = runCli(["render", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    expect(deploymentArgs(root, "1.1.0")).not.toContain("--exact-preprocess");

    const file = join(root, "environments/dev/environment.yaml");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace(/^( {2}queue: .*)$/m, "$1\n  exactPreprocess: true"),
    );
    const exact = runCli(["render", "--root", root]);
    expect(exact.code, exact.stderr).toBe(0);
    const args = deploymentArgs(root, "1.1.0");
    expect(args.slice(args.indexOf("--queue"), args.indexOf("--queue") + 3)).toEqual([
      "--queue",
      "16",
      "--exact-preprocess",
    ]);
  });
});
