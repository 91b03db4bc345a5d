/** kubectl (built from k8s.io/kubernetes at the pinned release) against the admin kubeconfig. */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { BIN, KUBECONFIG } from "./layout.ts";

export function kubectl(context: string, args: string[], input?: string): string {
  try {
    return execFileSync(
      join(BIN, "kubectl"),
      [`--kubeconfig=${KUBECONFIG}`, `--context=${context}`, ...args],
      {
        encoding: "utf8",
        input,
        stdio: ["pipe", "pipe", "pipe"],
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    throw new Error(`kubectl --context=${context} ${args.join(" ")}: ${err.stderr || err.stdout || e}`);
  }
}

export function kubectlJson<T = Record<string, unknown>>(context: string, args: string[]): T {
  return JSON.parse(kubectl(context, [...args, "-o", "json"])) as T;
}
