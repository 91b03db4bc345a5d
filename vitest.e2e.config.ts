import { defineConfig } from "vitest/config";

// The end-to-end suite: real kube-apiservers and Argo CD (npm run cluster -- up, or any cluster
// with Argo CD named by E2E_KUBECONFIG). Not part of `npm test`; scenarios run one after the
// other against one shared control plane.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
