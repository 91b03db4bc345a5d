/** Kubeconfig files: the admin one `up` writes (contexts hub, spoke) and one per component. */
import { readFileSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";

export interface KubeUser {
  cert?: string;
  key?: string;
  token?: string;
}

export interface KubeContext {
  name: string;
  server: string;
  ca: string;
  user: KubeUser;
  namespace?: string;
}

/** Certificates inline, so the file can be handed to another machine's tools as it is. */
export function kubeconfig(contexts: KubeContext[], current: string): string {
  const b64 = (file: string) => readFileSync(file).toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": current,
    clusters: contexts.map((c) => ({
      name: c.name,
      cluster: { server: c.server, "certificate-authority-data": b64(c.ca) },
    })),
    users: contexts.map((c) => ({
      name: c.name,
      user: {
        ...(c.user.cert ? { "client-certificate-data": b64(c.user.cert) } : {}),
        ...(c.user.key ? { "client-key-data": b64(c.user.key) } : {}),
        ...(c.user.token ? { token: c.user.token } : {}),
      },
    })),
    contexts: contexts.map((c) => ({
      name: c.name,
      context: { cluster: c.name, user: c.name, ...(c.namespace ? { namespace: c.namespace } : {}) },
    })),
  });
}

export function writeKubeconfig(file: string, contexts: KubeContext[], current: string): void {
  writeFileSync(file, kubeconfig(contexts, current), { mode: 0o600 });
}
