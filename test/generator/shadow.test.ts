/**
 * A version file's `shadow:`: the shadow version is deployed without user traffic, live's
 * Deployment gets `--shadow` pointing at the shadow's Service, and the NetworkPolicies open
 * exactly that path (live's pods -> the shadow's pods, inference port).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { fixtureCopy, runCli } from "../support/cli.ts";

describe("shadow in a version file", () => {
  let root: string;
  const rendered = (f: string) => join(root, "environments/dev/rendered", f);
  const yamlAt = (f: string) => parse(readFileSync(rendered(f), "utf8"));
  const writeDev = (text: string) => writeFileSync(join(root, "environments/dev/wms.yaml"), text);
  beforeEach(() => {
    root = fixtureCopy("basic");
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("points live's server at the shadow's Service and opens exactly that path", () => {
    writeDev("model: wms\nlive: 1.1.0\nshadow: { version: 1.2.0, sample: 0.25 }\nretain: [1.0.0]\n");
    const r = runCli(["render", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/shadow 1\.2\.0 \(25% copied\)/);

    const liveApp = JSON.parse(readFileSync(rendered("wms-1.1.0/app.json"), "utf8"));
    const shadowApp = JSON.parse(readFileSync(rendered("wms-1.2.0/app.json"), "utf8"));
    expect(shadowApp).toMatchObject({ role: "shadow", weight: 0 });
    const args: string[] = yamlAt("wms-1.1.0/deployment.wms.yaml").spec.template.spec.containers[0].args;
    const at = args.indexOf("--shadow");
    expect(args.slice(at, at + 4)).toEqual([
      "--shadow",
      `http://wms.${shadowApp.namespace}.svc:8080`,
      "--shadow-sample",
      "0.25",
    ]);
    // neither the shadow nor the retained version calls anyone
    expect(yamlAt("wms-1.2.0/deployment.wms.yaml").spec.template.spec.containers[0].args).not.toContain(
      "--shadow",
    );

    const egress = yamlAt("wms-1.1.0/networkpolicy.allow-shadow-egress.yaml").spec;
    expect(egress.egress).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": shadowApp.namespace } },
            podSelector: {
              matchLabels: { "app.kubernetes.io/name": "wms", "app.kubernetes.io/instance": "wms-1-2-0" },
            },
          },
        ],
        ports: [{ protocol: "TCP", port: 8080 }],
      },
    ]);
    const ingress = yamlAt("wms-1.2.0/networkpolicy.allow-live-to-shadow.yaml").spec;
    expect(ingress.ingress[0].from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"]).toBe(
      liveApp.namespace,
    );
    expect(ingress.ingress[0].ports).toEqual([{ protocol: "TCP", port: 8080 }]);
    expect(() => readFileSync(rendered("wms-1.0.0/networkpolicy.allow-live-to-shadow.yaml"))).toThrow();

    // the shadow takes no user traffic: the weighted route sends everything to live
    const route = readFileSync(rendered("wms-routing/httproute.wms.yaml"), "utf8");
    expect(route).not.toMatch(/wms-1-2-0[\s\S]*weight: [1-9]/);
    expect(runCli(["render", "--root", root, "--check"]).code).toBe(0);
  });

  it("naming the canary as shadow compares the canary too: live copies photos to it", () => {
    writeDev("model: wms\nlive: 1.1.0\ncanary: { version: 1.2.0, weight: 10 }\nshadow: { version: 1.2.0 }\n");
    const r = runCli(["render", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    const canaryApp = JSON.parse(readFileSync(rendered("wms-1.2.0/app.json"), "utf8"));
    expect(canaryApp).toMatchObject({ role: "canary", weight: 10 });
    const args: string[] = yamlAt("wms-1.1.0/deployment.wms.yaml").spec.template.spec.containers[0].args;
    expect(args[args.indexOf("--shadow") + 1]).toBe(`http://wms.${canaryApp.namespace}.svc:8080`);
    expect(yamlAt("wms-1.2.0/networkpolicy.allow-live-to-shadow.yaml").kind).toBe("NetworkPolicy");
  });

  it("the sample defaults to 10%", () => {
    writeDev("model: wms\nlive: 1.1.0\nshadow: { version: 1.2.0 }\n");
    expect(runCli(["render", "--root", root]).code).toBe(0);
    const args: string[] = yamlAt("wms-1.1.0/deployment.wms.yaml").spec.template.spec.containers[0].args;
    expect(args[args.indexOf("--shadow-sample") + 1]).toBe("0.1");
  });

  it.each([
    [
      "the live version",
      "live: 1.1.0\nshadow: { version: 1.1.0 }\n",
      /wms\.yaml:3 \[shadow\.version\] shadow 1\.1\.0 is already named by live/,
    ],
    ["no live", "shadow: { version: 1.2.0 }\n", /wms\.yaml.*live/],
    [
      "a sample of 0",
      "live: 1.1.0\nshadow: { version: 1.2.0, sample: 0 }\n",
      /wms\.yaml:3 \[shadow\.sample\]/,
    ],
  ])("refuses a shadow that is %s, naming the line (exit 2)", (_what, body, message) => {
    expect(runCli(["render", "--root", root]).code).toBe(0); // the fixture's own version file
    writeDev(`model: wms\n${body}`);
    const before = readFileSync(rendered("wms-1.1.0/deployment.wms.yaml"), "utf8");
    const r = runCli(["render", "--root", root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(readFileSync(rendered("wms-1.1.0/deployment.wms.yaml"), "utf8")).toBe(before);
  });
});
