import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["generator/**/*.test.ts", "model/server/**/*.test.ts", "test/**/*.test.ts"],
    // the end-to-end suite has its own config (vitest.e2e.config.ts, npm run test:e2e)
    exclude: ["**/node_modules/**", "test/e2e/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests start real processes (S3 server, model servers); two cores only.
    maxWorkers: 2,
  },
});
