import { describe, expect, it } from "vitest";
import { MEMORY_QUANTITY, mebibytes, milliCpu } from "./quantity.ts";

describe("Kubernetes quantities", () => {
  it("cpu in millicores", () => {
    expect(["250m", "1", "1.5", "2000m"].map(milliCpu)).toEqual([250, 1000, 1500, 2000]);
    expect(milliCpu(2)).toBe(2000);
  });

  it("memory in MiB; other units are refused", () => {
    expect(["512Mi", "2Gi", "1.5Gi"].map(mebibytes)).toEqual([512, 2048, 1536]);
    expect(() => mebibytes("1G")).toThrow(/unsupported memory quantity 1G/);
    expect(["768Mi", "1Gi", "1.5Gi", "1G"].map((q) => MEMORY_QUANTITY.test(q))).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});
