/**
 * A direct TCP (optionally TLS) transport for Node, so a Node service needs
 * no WebSocket proxy. Only the Node entry point loads this module: it needs
 * `node:net` and `node:tls`.
 */
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { Transport } from "../wasm/keel_wasm.js";
import { keelError } from "./errors.js";
import type { TcpTransportOptions } from "./transports.js";

/** Bytes read but not yet taken by keel beyond which the socket is paused. */
const HIGH_WATER = 1 << 20;

function opened(socket: Socket, event: "connect" | "secureConnect", what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(keelError("transport", `${what} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(keelError("transport", `${what} failed: ${error.message}`));
    };
    socket.once("error", fail);
    socket.once(event, () => {
      clearTimeout(timer);
      socket.off("error", fail);
      resolve();
    });
  });
}

/**
 * PostgreSQL's TLS upgrade: an SSLRequest, then one byte, `S` or `N`.
 * Anything after that byte before the handshake would be unauthenticated
 * bytes injected into the session (CVE-2021-23222), so it is refused.
 */
function sslRequest(socket: Socket, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      socket.off("data", onData);
      socket.off("error", done);
      socket.off("close", onClose);
      socket.pause();
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve();
    };
    const onClose = () => done(keelError("transport", `${what}: the server closed the connection during the TLS request`));
    const onData = (chunk: Buffer) => {
      if (chunk.length !== 1) {
        done(keelError("protocol", `${what}: unexpected bytes after the server's answer to the TLS request`));
      } else if (chunk[0] === 0x53 /* S */) {
        done();
      } else if (chunk[0] === 0x4e /* N */) {
        done(keelError("transport", `${what}: the server does not accept TLS connections`));
      } else {
        done(keelError("protocol", `${what}: unexpected answer to the TLS request (byte ${chunk[0]})`));
      }
    };
    socket.on("data", onData);
    socket.once("error", done);
    socket.once("close", onClose);
    // Int32 length 8, Int32 80877103: the SSLRequest code.
    socket.write(Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f));
  });
}

/** Wraps a connected socket in keel's pull-based Transport. */
function streamOf(socket: Socket | TLSSocket, what: string): Transport {
  const chunks: Uint8Array[] = [];
  let buffered = 0;
  let waiting: { resolve: (bytes: Uint8Array | null) => void; reject: (error: Error) => void } | null = null;
  let ended = false;
  let failure: Error | null = null;
  let drained: (() => void) | null = null;

  const wake = () => {
    const w = waiting;
    waiting = null;
    if (w === null) return;
    if (failure) w.reject(failure);
    else w.resolve(null);
  };
  socket.on("data", (chunk: Buffer) => {
    if (waiting) {
      const w = waiting;
      waiting = null;
      w.resolve(chunk);
      return;
    }
    chunks.push(chunk);
    buffered += chunk.length;
    // Backpressure: stop reading from the kernel until keel catches up.
    if (buffered >= HIGH_WATER) socket.pause();
  });
  socket.on("error", (error: Error) => {
    failure ??= keelError("transport", `${what} failed: ${error.message}`);
    wake();
  });
  socket.on("close", () => {
    ended = true;
    drained?.();
    wake();
  });
  socket.on("drain", () => drained?.());
  socket.resume();

  return {
    write(bytes: Uint8Array): Promise<void> | void {
      if (failure) throw failure;
      if (ended || socket.destroyed) throw keelError("closed", `${what} is closed`);
      if (socket.write(bytes)) return;
      // The kernel buffer is full: hold keel's next write until it drains.
      return new Promise<void>((resolve, reject) => {
        drained = () => {
          drained = null;
          if (failure) reject(failure);
          else if (ended) reject(keelError("closed", `${what} is closed`));
          else resolve();
        };
      });
    },
    read(): Promise<Uint8Array | null> {
      const chunk = chunks.shift();
      if (chunk !== undefined) {
        buffered -= chunk.length;
        if (buffered < HIGH_WATER && socket.isPaused() && !ended) socket.resume();
        return Promise.resolve(chunk);
      }
      if (failure) return Promise.reject(failure);
      if (ended) return Promise.resolve(null);
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once("close", () => resolve());
        // Let keel's last write (Terminate) go out, then let go of the socket.
        socket.end(() => socket.destroy());
      });
    },
  };
}

/**
 * Opens a TCP connection to PostgreSQL (Node only); with `tls`, upgrades it
 * the way PostgreSQL expects (SSLRequest first) and verifies the server's
 * certificate unless told otherwise. Resolves once the connection is ready
 * for keel's startup message.
 */
export async function nodeTcpTransport(options: TcpTransportOptions): Promise<Transport> {
  const { host, port, tls, connectTimeoutMs = 10_000 } = options;
  const what = `TCP connection to ${host}:${port}`;
  const socket = netConnect({ host, port });
  socket.setNoDelay(true);
  await opened(socket, "connect", what, connectTimeoutMs);
  if (tls === undefined || tls === false) return streamOf(socket, what);

  await sslRequest(socket, what);
  // From here the TLS socket reports failures (and closes); a raw-socket
  // error with no listener would otherwise crash the process.
  socket.on("error", () => undefined);
  const tlsOptions = tls === true ? {} : tls;
  const secure = tlsConnect({
    ...tlsOptions,
    socket,
    // The name the certificate is checked against: without it Node checks
    // "localhost", which would let a certificate for localhost pass for any
    // address connected to by IP.
    host,
    // SNI takes host names only.
    ...(isIP(host) === 0 && tlsOptions.servername === undefined ? { servername: host } : {}),
  });
  await opened(secure, "secureConnect", `TLS handshake with ${host}:${port}`, connectTimeoutMs);
  return streamOf(secure, `TLS connection to ${host}:${port}`);
}
