/**
 * Every kind of bad input: the CLI exits non-zero, names file, line/field and a fix, and leaves
 * rendered/ exactly as it was.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { fixtureCopy, runCli, snapshotTree } from "../support/cli.ts";

const VERSION_FILE = "environments/dev/wms.yaml";

interface Case {
  name: string;
  /** break the fixture copy */
  apply(root: string): void;
  /** what stderr must say (each a regexp) */
  expect: RegExp[];
}

const write = (root: string, rel: string, text: string) => writeFileSync(join(root, rel), text);
const editCard = (root: string, version: string, fn: (c: Record<string, unknown>) => void) => {
  const file = join(root, `model/releases/wms/${version}/model-card.json`);
  const card = JSON.parse(readFileSync(file, "utf8"));
  fn(card);
  writeFileSync(file, JSON.stringify(card, null, 2));
};

const cases: Case[] = [
  {
    name: "YAML syntax error",
    apply: (r) => write(r, VERSION_FILE, "model: wms\nlive: 1.1.0\ncanary: { version: 1.2.0, weight: 20\n"),
    expect: [/environments\/dev\/wms\.yaml:\d+ YAML syntax error/],
  },
  {
    name: "schema violation (unknown field)",
    apply: (r) => write(r, VERSION_FILE, "model: wms\nlive: 1.1.0\nreplicas: 3\n"),
    expect: [/environments\/dev\/wms\.yaml:3 \[replicas\] unknown field "replicas"/],
  },
  {
    name: "schema violation (not a version)",
    apply: (r) => write(r, VERSION_FILE, "model: wms\nlive: latest\n"),
    expect: [/wms\.yaml:2 \[live\] "latest" is not valid here/, /fix: a semantic version such as "1\.4\.0"/],
  },
  {
    name: "unknown version",
    apply: (r) => write(r, VERSION_FILE, "model: wms\nlive: 1.1.0\nretain: [0.9.0]\n"),
    expect: [
      /wms\.yaml:3 \[retain\[0\]\] unknown version 0\.9\.0/,
      /fix: publish it first, or pick a published version: 1\.0\.0, 1\.1\.0, 1\.2\.0/,
    ],
  },
  {
    name: "version without a catalog card",
    apply: (r) => {
      mkdirSync(join(r, "model/releases/wms/1.3.0"), { recursive: true });
      writeFileSync(join(r, "model/releases/wms/1.3.0/model.onnx"), "not a card");
      write(r, VERSION_FILE, "model: wms\nlive: 1.3.0\n");
    },
    expect: [/model\/releases\/wms\/1\.3\.0\/model-card\.json release folder without model-card\.json/],
  },
  {
    name: "invalid card",
    apply: (r) =>
      editCard(r, "1.2.0", (c) => {
        (c.artifact as Record<string, unknown>).sha256 = "not-a-digest";
        c.metrics = { val: { iou: 1.5, dice: 0.9 } };
      }),
    expect: [
      /model\/releases\/wms\/1\.2\.0\/model-card\.json \[artifact\.sha256\] must match pattern/,
      /\[metrics\.val\.iou\] must be <= 1/,
      /\[metrics\] must have required property 'test'/,
    ],
  },
  {
    name: "duplicate version in one file",
    apply: (r) => write(r, VERSION_FILE, "model: wms\nlive: 1.1.0\nretain: [1.0.0, 1.1.0]\n"),
    expect: [/wms\.yaml:3 \[retain\[1\]\] duplicate version 1\.1\.0 \(already named by live\)/],
  },
  {
    name: "duplicate key in one file",
    apply: (r) => write(r, VERSION_FILE, "model: wms\nlive: 1.1.0\nlive: 1.2.0\n"),
    expect: [/wms\.yaml:3 YAML syntax error: Map keys must be unique/, /fix: remove the repeated key/],
  },
  {
    name: "canary weight 0",
    apply: (r) => write(r, VERSION_FILE, "model: wms\nlive: 1.1.0\ncanary: { version: 1.2.0, weight: 0 }\n"),
    expect: [/wms\.yaml:3 \[canary\.weight\] must be >= 1/, /fix: the canary's share of traffic in percent/],
  },
  {
    name: "canary weight 100",
    apply: (r) =>
      write(r, VERSION_FILE, "model: wms\nlive: 1.1.0\ncanary:\n  version: 1.2.0\n  weight: 100\n"),
    expect: [/wms\.yaml:5 \[canary\.weight\] must be <= 99/],
  },
  {
    name: "canary without live",
    apply: (r) =>
      write(r, VERSION_FILE, "model: wms\ncanary: { version: 1.2.0, weight: 5 }\nretain: [1.1.0]\n"),
    expect: [/wms\.yaml:1 \[\(top level\)\] must have property live when property canary is present/],
  },
  {
    name: "canary equal to live",
    apply: (r) => write(r, VERSION_FILE, "model: wms\nlive: 1.1.0\ncanary: { version: 1.1.0, weight: 5 }\n"),
    expect: [/wms\.yaml:3 \[canary\.version\] canary 1\.1\.0 is the same version as live/],
  },
  {
    name: "gate failure (prod requires test IoU >= 0.9)",
    apply: (r) => write(r, "environments/prod/wms.yaml", "model: wms\nlive: 1.0.0\n"),
    expect: [
      /environments\/prod\/wms\.yaml:2 \[live\] quality gate of prod: 1\.0\.0 has test IoU 0\.88 < required 0\.9/,
      /fix: deploy a version whose test IoU is at least 0\.9/,
    ],
  },
  {
    name: "gate failure (example card in prod)",
    apply: (r) => {
      editCard(r, "1.2.0", (c) => {
        c.example = true;
      });
      write(r, "environments/prod/wms.yaml", "model: wms\nlive: 1.2.0\n");
    },
    expect: [
      /prod\/wms\.yaml:2 \[live\] quality gate of prod: 1\.2\.0 is an example \(untrained placeholder\) card/,
    ],
  },
  {
    name: "environment: more inference threads than CPUs",
    apply: (r) => {
      const f = join(r, "environments/dev/environment.yaml");
      writeFileSync(f, readFileSync(f, "utf8").replace(/^ {2}threads: 1 /m, "  threads: 4 "));
    },
    expect: [
      /environments\/dev\/environment\.yaml:12 \[server\.threads\] 4 inference threads exceed the CPU limit of 1/,
      /fix: set server\.threads to at most 1 or raise resources\.limits\.cpu/,
    ],
  },
  {
    name: "environment: a memory limit below the model server's reserve",
    apply: (r) => {
      const f = join(r, "environments/dev/environment.yaml");
      writeFileSync(
        f,
        readFileSync(f, "utf8").replace(
          'limits: { cpu: "1", memory: 1Gi }',
          'limits: { cpu: "1", memory: 512Mi }',
        ),
      );
    },
    expect: [
      /environments\/dev\/environment\.yaml:20 \[resources\.limits\.memory\] 512Mi leaves the model server nothing for requests after its 512 MiB reserve/,
      /fix: set resources\.limits\.memory to at least 640Mi/,
    ],
  },
  {
    name: "environment: more sessions side by side than inference threads",
    apply: (r) => {
      const f = join(r, "environments/dev/environment.yaml");
      writeFileSync(f, readFileSync(f, "utf8").replace(/^( {2}threads: 1 .*)$/m, "$1\n  instances: 2"));
    },
    expect: [
      /environments\/dev\/environment\.yaml:13 \[server\.instances\] 2 sessions side by side need a thread each, but server\.threads is 1/,
      /fix: set server\.instances to at most 1/,
    ],
  },
  {
    name: "environment: a memory limit below the reserve of server.instances' sessions",
    apply: (r) => {
      const f = join(r, "environments/prod/environment.yaml");
      writeFileSync(
        f,
        readFileSync(f, "utf8")
          .replace(/^( {2}threads: 2 .*)$/m, "$1\n  instances: 2")
          .replace('limits: { cpu: "2", memory: 2Gi }', 'limits: { cpu: "2", memory: 1Gi }'),
      );
    },
    expect: [
      /environments\/prod\/environment\.yaml:21 \[resources\.limits\.memory\] 1Gi leaves the model server nothing for requests after its 960 MiB reserve \(3 sessions: server\.instances 2 and one for lone requests\)/,
      /fix: set resources\.limits\.memory to at least 1088Mi or lower server\.instances/,
    ],
  },
  {
    name: "output an admission policy would deny",
    apply: (r) => {
      mkdirSync(join(r, "policies/max-two-replicas"), { recursive: true });
      writeFileSync(
        join(r, "policies/max-two-replicas/policy.yaml"),
        [
          "apiVersion: admissionregistration.k8s.io/v1",
          "kind: ValidatingAdmissionPolicy",
          "metadata: { name: max-two-replicas }",
          "spec:",
          "  matchConstraints:",
          "    resourceRules:",
          '      - { apiGroups: ["autoscaling"], apiVersions: ["v2"], operations: ["CREATE"], resources: ["horizontalpodautoscalers"] }',
          "  validations:",
          "    - expression: object.spec.maxReplicas <= 2",
          '      message: "at most 2 replicas here"',
        ].join("\n"),
      );
    },
    expect: [
      /environments\/prod\/rendered\/wms-1\.1\.0\/horizontalpodautoscaler\.wms\.yaml \[HorizontalPodAutoscaler\/wms\] denied by admission policy max-two-replicas: at most 2 replicas here/,
    ],
  },
];

describe("bad input", () => {
  let pristine: string;
  beforeAll(() => {
    pristine = fixtureCopy("basic");
    const r = runCli(["render", "--root", pristine]);
    expect(r.code, r.stderr).toBe(0);
  });

  for (const c of cases) {
    it(`${c.name}: exits 2, names the place and the fix, leaves rendered/ untouched`, () => {
      // start from a rendered copy so there is output to protect
      const copy = fixtureCopyOf(pristine);
      const before = snapshotTree(join(copy, "environments"));
      c.apply(copy);
      const r = runCli(["render", "--root", copy]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^Error: /);
      for (const re of c.expect) expect(r.stderr).toMatch(re);
      const after = snapshotTree(join(copy, "environments"));
      for (const [path, content] of Object.entries(before)) {
        if (path.includes("/rendered/")) expect(after[path], path).toBe(content);
      }
      expect(Object.keys(after).filter((p) => p.includes("/rendered/"))).toEqual(
        Object.keys(before).filter((p) => p.includes("/rendered/")),
      );
    });
  }
});

function fixtureCopyOf(dir: string): string {
  const copy = mkdtempSync(join(tmpdir(), "wms-bad-"));
  cpSync(dir, copy, { recursive: true });
  return copy;
}
