/**
 * Lingering close: how a server closes a connection whose request it did not read to the end
 * (an oversize upload refused with 413, a malformed request) without the client losing the
 * answer. Closing a TCP socket that still has unread input makes the kernel send RST, and a
 * client that is still uploading then sees ECONNRESET and may drop our response before it has
 * read it. So, as nginx's lingering_close does: send the response and FIN, keep reading and
 * discarding what the client still sends, and close for good when the client closes or after
 * `ms`, whichever comes first.
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

/** How long a refused client may go on sending before the connection is reset anyway. */
export const LINGER_MS = 2000;

const lingering = new WeakSet<Duplex>();

export function isLingering(socket: Duplex): boolean {
  return lingering.has(socket);
}

/** End the socket's writable side now (after what is already written) and linger on reads. */
export function lingerClose(socket: Duplex, ms = LINGER_MS): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  socket.on("data", () => {}); // discard
  socket.resume();
  socket.end();
}

/**
 * For a response that ends a request whose body was not read: Node's HTTP server calls
 * `destroySoon()` on the socket once a `Connection: close` response has finished, which would
 * close with the upload still arriving. Replace it on this socket with a lingering close.
 */
export function lingerAfterResponse(socket: Socket | null, ms = LINGER_MS): void {
  if (!socket) return;
  socket.destroySoon = () => lingerClose(socket, ms);
}
