import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["generator/**/*.test.ts", "model/server/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests start real processes (S3 server, model servers); two cores only.
    maxWorkers: 2,
  },
});
