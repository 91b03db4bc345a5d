import { describe, expect, it } from "vitest";
import { compareVersions } from "./catalog.ts";

describe("compareVersions", () => {
  it("orders by SemVer precedence: numeric prerelease identifiers as numbers, prereleases before the release", () => {
    const sorted = ["1.0.0", "1.0.0-rc.10", "0.9.0", "1.0.0-rc.9", "1.0.0-beta", "10.0.0", "2.0.0"].sort(
      compareVersions,
    );
    expect(sorted).toEqual(["0.9.0", "1.0.0-beta", "1.0.0-rc.9", "1.0.0-rc.10", "1.0.0", "2.0.0", "10.0.0"]);
    expect(compareVersions("1.2.3", "1.2.3")).toBe(0);
  });
});
