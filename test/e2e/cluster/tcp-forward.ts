/**
 * A TCP forwarder: listens on an address of a network `cluster up` created (the host end of a
 * real node's veth pair) and pipes each connection to a loopback port. The real node's kubelet
 * and kube-proxy run in their own network namespace, where the host's loopback is not theirs;
 * this is how they reach the API server, which listens on 127.0.0.1 only. Bytes pass unchanged
 * (TLS ends at the API server, whose certificate names the listen address).
 *
 *   node --import tsx test/e2e/cluster/tcp-forward.ts <listen ip> <listen port> <loopback port>
 */
import { connect, createServer } from "node:net";

const [host, port, target] = process.argv.slice(2);
if (!host || !port || !target) {
  console.error("usage: tcp-forward.ts <listen ip> <listen port> <loopback port>");
  process.exit(2);
}

const server = createServer((client) => {
  const upstream = connect(Number(target), "127.0.0.1");
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", close);
  upstream.on("error", close);
});
server.listen(Number(port), host, () => console.log(`forwarding ${host}:${port} -> 127.0.0.1:${target}`));
for (const s of ["SIGTERM", "SIGINT"] as const) process.on(s, () => server.close(() => process.exit(0)));
