import type { Transport } from "../wasm/keel_wasm.js";
import { isKeelError, keelError } from "./errors.js";

export type { Transport };

/** What keel needs of a PGlite instance: `execProtocolRaw`, which takes raw frontend messages. */
export interface PGliteLike {
  execProtocolRaw(message: Uint8Array): Promise<Uint8Array>;
  /** PGlite starts asynchronously; raw protocol calls before this resolves fail. */
  waitReady?: Promise<void>;
}

/**
 * Talks to an in-process PGlite. Each write is one `execProtocolRaw` call and
 * its reply is what the next read returns.
 */
export function pgliteTransport(db: PGliteLike): Transport {
  const replies: Uint8Array[] = [];
  let closed = false;
  return {
    async write(bytes: Uint8Array): Promise<void> {
      if (closed) throw keelError("closed", "PGlite transport is closed");
      await db.waitReady;
      replies.push(await db.execProtocolRaw(bytes));
    },
    async read(): Promise<Uint8Array | null> {
      if (closed) return null;
      const reply = replies.shift();
      // PGlite answers each write in full, so waiting here would wait forever.
      if (reply === undefined) {
        throw keelError("protocol", "PGlite sent no further reply: the connection expected more data than it returned");
      }
      return reply;
    },
    close(): void {
      closed = true;
    },
  };
}

/** The subset of the WHATWG WebSocket that keel uses; the `ws` package provides it too. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code?: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface WebSocketTransportOptions {
  /**
   * The WebSocket class to use. Defaults to the global one (browsers, Workers,
   * Deno, Node >= 22). On Node 20 pass `WebSocket` from the `ws` package.
   */
  WebSocket?: WebSocketConstructor;
}

function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/**
 * Opens a WebSocket to keel's proxy (or any proxy that relays raw PostgreSQL
 * bytes in binary frames). Resolves once the socket is open.
 */
export function webSocketTransport(url: string, options: WebSocketTransportOptions = {}): Promise<Transport> {
  const Ctor =
    options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Ctor === undefined) {
    return Promise.reject(
      keelError("transport", "no global WebSocket here (Node 20?): pass { WebSocket } from the 'ws' package"),
    );
  }
  const socket = new Ctor(url);
  socket.binaryType = "arraybuffer";
  const frames: Uint8Array[] = [];
  let waiting: { resolve: (bytes: Uint8Array | null) => void; reject: (error: Error) => void } | null = null;
  let ended = false;
  let failure: Error | null = null;

  const transport: Transport = {
    write(bytes: Uint8Array): void {
      if (ended || failure) throw failure ?? keelError("closed", "WebSocket is closed");
      socket.send(bytes);
    },
    read(): Promise<Uint8Array | null> {
      const frame = frames.shift();
      if (frame !== undefined) return Promise.resolve(frame);
      if (failure) return Promise.reject(failure);
      if (ended) return Promise.resolve(null);
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    close(): void {
      ended = true;
      socket.close();
    },
  };

  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(transport);
    socket.onmessage = (event) => {
      const bytes = toBytes(event.data);
      if (bytes === null) return; // text frames carry no protocol bytes
      if (waiting) {
        const w = waiting;
        waiting = null;
        w.resolve(bytes);
      } else {
        frames.push(bytes);
      }
    };
    socket.onerror = () => {
      failure = keelError("transport", `WebSocket to ${url} failed`);
      reject(failure);
      if (waiting) {
        const w = waiting;
        waiting = null;
        w.reject(failure);
      }
    };
    socket.onclose = (event) => {
      ended = true;
      reject(keelError("transport", `WebSocket to ${url} closed before it opened (code ${event.code ?? "?"})`));
      if (waiting) {
        const w = waiting;
        waiting = null;
        w.resolve(null);
      }
    };
  });
}

/**
 * A byte-stream socket: Cloudflare's `connect()` from `cloudflare:sockets`
 * returns one, and so does Deno's `Deno.connect()`.
 */
export interface StreamSocketLike {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): Promise<void> | void;
  /**
   * Cloudflare's in-place TLS upgrade, present on a socket opened with
   * `{ secureTransport: "starttls" }`; the socket it returns replaces this one.
   */
  startTls?(options?: { expectedServerHostname?: string }): StreamSocketLike;
}

/** TLS settings for {@link socketTransport}. */
export interface SocketTlsOptions {
  /**
   * The name the server's certificate must carry, when it is not the host
   * name the socket was opened with (Cloudflare's `expectedServerHostname`).
   */
  expectedServerHostname?: string;
}

/** Options for {@link socketTransport}. */
export interface SocketTransportOptions {
  /**
   * Upgrade to TLS after PostgreSQL's SSLRequest, through the socket's
   * `startTls()`: `true`, or TLS settings.
   */
  tls?: boolean | SocketTlsOptions;
}

/**
 * Talks to PostgreSQL over a direct TCP socket, e.g. on Cloudflare Workers:
 *
 * ```ts
 * import { connect as tcp } from "cloudflare:sockets";
 * const transport = socketTransport(tcp({ hostname: "db.internal", port: 5432 }));
 * // With TLS, which hosted PostgreSQL services require:
 * const secure = await socketTransport(tcp({ hostname: "db.example.com", port: 5432 }, { secureTransport: "starttls" }), { tls: true });
 * ```
 *
 * With `tls`, it resolves once the server has agreed to TLS; the handshake
 * itself runs with the first bytes keel sends, so a certificate the runtime
 * does not trust fails `connect()` with a `KeelTransportError`.
 */
export function socketTransport(socket: StreamSocketLike): Transport;
export function socketTransport(socket: StreamSocketLike, options: { tls: true | SocketTlsOptions }): Promise<Transport>;
export function socketTransport(socket: StreamSocketLike, options?: SocketTransportOptions): Transport | Promise<Transport>;
export function socketTransport(socket: StreamSocketLike, options: SocketTransportOptions = {}): Transport | Promise<Transport> {
  const { tls } = options;
  if (tls === undefined || tls === false) return streamTransport(socket, false);
  return startTls(socket, tls === true ? {} : tls).then((secure) => streamTransport(secure, true));
}

/** Int32 length 8, Int32 80877103: PostgreSQL's SSLRequest. */
const SSL_REQUEST = Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f);

/**
 * Asks the server for TLS and upgrades the socket. The server answers one
 * byte, `S` or `N`; anything after that byte before the handshake would be
 * unauthenticated bytes injected into the session (CVE-2021-23222), so it
 * is refused.
 */
async function startTls(socket: StreamSocketLike, options: SocketTlsOptions): Promise<StreamSocketLike> {
  if (typeof socket.startTls !== "function") {
    await closeQuietly(socket);
    throw keelError(
      "transport",
      'TLS needs a socket that can start TLS: on Workers open it with connect(address, { secureTransport: "starttls" })',
    );
  }
  const writer = socket.writable.getWriter();
  const reader = socket.readable.getReader();
  let answer: number;
  try {
    await writer.write(SSL_REQUEST);
    let chunk: ReadableStreamReadResult<Uint8Array>;
    do chunk = await reader.read();
    while (!chunk.done && chunk.value.length === 0);
    if (chunk.done) throw keelError("transport", "the server closed the connection during the TLS request");
    if (chunk.value.length !== 1) {
      throw keelError("protocol", "unexpected bytes after the server's answer to the TLS request");
    }
    answer = chunk.value[0]!;
  } catch (error) {
    await closeQuietly(socket);
    throw isKeelError(error) ? error : keelError("transport", `the TLS request failed: ${messageOf(error)}`);
  } finally {
    writer.releaseLock();
    reader.releaseLock();
  }
  if (answer !== 0x53 /* S */) {
    await closeQuietly(socket);
    throw answer === 0x4e /* N */
      ? keelError("transport", "the server does not accept TLS connections")
      : keelError("protocol", `unexpected answer to the TLS request (byte ${answer})`);
  }
  try {
    return options.expectedServerHostname === undefined
      ? socket.startTls()
      : socket.startTls({ expectedServerHostname: options.expectedServerHostname });
  } catch (error) {
    await closeQuietly(socket);
    throw keelError(
      "transport",
      `starting TLS failed (on Workers the socket must be opened with { secureTransport: "starttls" }): ${messageOf(error)}`,
    );
  }
}

/**
 * keel's Transport over a socket's streams. Over TLS the handshake runs with
 * the first write and read, and the runtime may report its failure as an
 * opaque error there, so until the server's first bytes arrive a failure is
 * named as the handshake's.
 */
function streamTransport(socket: StreamSocketLike, tls: boolean): Transport {
  const reader = socket.readable.getReader();
  const writer = socket.writable.getWriter();
  let closed = false;
  let handshaken = !tls;
  const failed = (error: unknown): never => {
    if (handshaken || isKeelError(error)) throw error;
    throw keelError(
      "transport",
      `TLS handshake failed (is the server's certificate trusted, and issued for this host name?): ${messageOf(error)}`,
    );
  };
  return {
    async write(bytes: Uint8Array): Promise<void> {
      if (closed) throw keelError("closed", "socket is closed");
      await writer.write(bytes).catch(failed);
    },
    async read(): Promise<Uint8Array | null> {
      if (closed) return null;
      const { value, done } = await reader.read().catch(failed);
      if (done || value === undefined) return null;
      handshaken = true;
      return value;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // Release our locks before closing so a pending read settles instead of hanging.
      reader.releaseLock();
      writer.releaseLock();
      await socket.close();
    },
  };
}

/** Lets go of a socket that failed; its own failure to close adds nothing. */
async function closeQuietly(socket: StreamSocketLike): Promise<void> {
  try {
    await socket.close();
  } catch {
    // Already reported: the error that made keel close it.
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** TLS settings for {@link tcpTransport}; passed on to Node's `tls.connect`. */
export interface TcpTlsOptions {
  /** Trusted CA certificates (PEM); the system's by default. */
  ca?: string | string[];
  /** Client certificate and key (PEM), for `cert` authentication. */
  cert?: string;
  key?: string;
  /** The name the certificate must match; the host by default (when it is a name, not an address). */
  servername?: string;
  /** Defaults to true. Turning it off accepts any certificate: eavesdropping protection only. */
  rejectUnauthorized?: boolean;
}

export interface TcpTransportOptions {
  host: string;
  port: number;
  /** Upgrade to TLS after PostgreSQL's SSLRequest: `true` for the defaults, or settings. */
  tls?: boolean | TcpTlsOptions;
  /** How long the TCP connection (and TLS handshake) may take; 10 s by default. */
  connectTimeoutMs?: number;
}

let tcpImplementation: ((options: TcpTransportOptions) => Promise<Transport>) | undefined;

/** @internal The Node entry point supplies the implementation (it needs `node:net`). */
export function __setTcpTransport(implementation: (options: TcpTransportOptions) => Promise<Transport>): void {
  tcpImplementation = implementation;
}

/**
 * A direct TCP connection to PostgreSQL from Node, optionally with TLS:
 *
 * ```ts
 * const client = await connect(await tcpTransport({ host: "127.0.0.1", port: 5432 }), schema, {
 *   user, password, cancel: () => tcpTransport({ host: "127.0.0.1", port: 5432 }),
 * });
 * ```
 *
 * Only under Node (the package's `node` export condition); elsewhere it
 * rejects: use `socketTransport` on Workers, `webSocketTransport` in browsers.
 */
export function tcpTransport(options: TcpTransportOptions): Promise<Transport> {
  if (tcpImplementation === undefined) {
    return Promise.reject(
      keelError(
        "transport",
        "tcpTransport needs Node (node:net): load keel-orm through its node entry; on Workers use socketTransport(connect(...)) from cloudflare:sockets",
      ),
    );
  }
  return tcpImplementation(options);
}
