/**
 * Certificates for one cluster, made with openssl: a CA, the API server's serving certificate
 * (loopback and the in-cluster names), etcd's serving and client certificates, client
 * certificates for the components that authenticate with one, and the service-account key pair.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ClientCert {
  cert: string;
  key: string;
}

export interface ClusterPki {
  dir: string;
  ca: string;
  caKey: string;
  apiserver: ClientCert;
  etcdServer: ClientCert;
  etcdClient: ClientCert;
  admin: ClientCert;
  controllerManager: ClientCert;
  scheduler: ClientCert;
  kwok: ClientCert;
  /** the real node's kubelet (Node authorizer: system:node:<name> in system:nodes) */
  kubelet: ClientCert;
  /** the real node's kube-proxy (bound to system:node-proxier by the default RBAC) */
  kubeProxy: ClientCert;
  frontProxy: ClientCert;
  saKey: string;
  saPub: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** One certificate signed by the cluster CA; `sans` as openssl subjectAltName entries. */
function issue(
  dir: string,
  name: string,
  subject: string,
  usage: "server" | "client" | "both",
  sans: string[] = [],
) {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  if (existsSync(cert)) return { cert, key };
  const ext = join(dir, `${name}.ext`);
  const eku = { server: "serverAuth", client: "clientAuth", both: "serverAuth,clientAuth" }[usage];
  writeFileSync(
    ext,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${eku}`,
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
      "",
    ].join("\n"),
  );
  openssl(["genrsa", "-out", key, "2048"], dir);
  openssl(["req", "-new", "-key", key, "-subj", subject, "-out", `${name}.csr`], dir);
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "30",
    ].concat(["-sha256", "-extfile", ext, "-out", cert]),
    dir,
  );
  return { cert, key };
}

/**
 * `node`: the real node's name and the host address its kubelet reaches the API server at (the
 * API server's certificate names that address too).
 */
export function clusterPki(
  dir: string,
  serviceIp: string,
  node: { name: string; apiIp: string },
): ClusterPki {
  mkdirSync(dir, { recursive: true });
  const ca = join(dir, "ca.crt");
  const caKey = join(dir, "ca.key");
  if (!existsSync(ca)) {
    openssl(["genrsa", "-out", caKey, "2048"], dir);
    openssl(
      [
        "req",
        "-x509",
        "-new",
        "-key",
        caKey,
        "-subj",
        "/CN=e2e-cluster-ca",
        "-days",
        "30",
        "-sha256",
        "-out",
        ca,
      ].concat([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ]),
      dir,
    );
  }
  const loopback = ["IP:127.0.0.1", "DNS:localhost"];
  const saKey = join(dir, "sa.key");
  const saPub = join(dir, "sa.pub");
  if (!existsSync(saPub)) {
    openssl(["genrsa", "-out", saKey, "2048"], dir);
    openssl(["rsa", "-in", saKey, "-pubout", "-out", saPub], dir);
  }
  return {
    dir,
    ca,
    caKey,
    apiserver: issue(dir, "apiserver", "/CN=kube-apiserver", "server", [
      ...loopback,
      `IP:${serviceIp}`,
      `IP:${node.apiIp}`,
      "DNS:kubernetes",
      "DNS:kubernetes.default",
      "DNS:kubernetes.default.svc",
      "DNS:kubernetes.default.svc.cluster.local",
    ]),
    etcdServer: issue(dir, "etcd-server", "/CN=etcd", "both", loopback),
    etcdClient: issue(dir, "etcd-client", "/CN=kube-apiserver-etcd-client", "client"),
    admin: issue(dir, "admin", "/O=system:masters/CN=e2e-admin", "client"),
    controllerManager: issue(dir, "kube-controller-manager", "/CN=system:kube-controller-manager", "client"),
    scheduler: issue(dir, "kube-scheduler", "/CN=system:kube-scheduler", "client"),
    kwok: issue(dir, "kwok", "/O=system:masters/CN=kwok", "client"),
    kubelet: issue(dir, "kubelet", `/O=system:nodes/CN=system:node:${node.name}`, "client"),
    kubeProxy: issue(dir, "kube-proxy", "/CN=system:kube-proxy", "client"),
    // the aggregation layer's client (metrics-server's API): the API server proxies with it and
    // the aggregated server trusts its CN (kubeadm signs it with a separate front-proxy CA)
    frontProxy: issue(dir, "front-proxy-client", "/CN=front-proxy-client", "client"),
    saKey,
    saPub,
  };
}
