// socketTransport's TLS upgrade (SSLRequest, then the socket's startTls) on
// scripted sockets: each stands in for a Cloudflare socket, the layer this
// code adapts, and plays the server's side of the exchange byte by byte.
// The real handshake, in workerd against a TLS server, is in
// tests/workerd.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { socketTransport } from "keel-orm";

const SSL_REQUEST = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/**
 * A socket whose reads return `replies` in order (then end of stream),
 * recording what is written and whether it was closed. `startTls` returns
 * `upgraded` and records the options it was called with.
 */
function scriptedSocket(replies, { upgraded, canStartTls = true } = {}) {
  const socket = {
    written: [],
    closed: false,
    tlsOptions: undefined,
    readable: new ReadableStream({
      pull(controller) {
        const next = replies.shift();
        if (next === undefined) controller.close();
        else if (next instanceof Error) controller.error(next);
        else controller.enqueue(Uint8Array.from(next));
      },
    }),
    writable: new WritableStream({
      write(chunk) {
        socket.written.push([...chunk]);
      },
    }),
    close() {
      socket.closed = true;
    },
  };
  if (canStartTls) {
    socket.startTls = (...options) => {
      socket.tlsOptions = options;
      return upgraded;
    };
  }
  return socket;
}

test("socketTransport with tls: SSLRequest, then the upgraded socket carries the session", async () => {
  const upgraded = scriptedSocket([[0x52, 0, 0, 0, 8, 0, 0, 0, 0]]);
  const socket = scriptedSocket([[0x53]], { upgraded });
  const transport = await socketTransport(socket, { tls: { expectedServerHostname: "db.example.com" } });
  assert.deepStrictEqual(socket.written, [SSL_REQUEST]);
  assert.deepStrictEqual(socket.tlsOptions, [{ expectedServerHostname: "db.example.com" }]);

  await transport.write(Uint8Array.of(1, 2, 3));
  assert.deepStrictEqual(upgraded.written, [[1, 2, 3]], "after the upgrade keel writes to the new socket only");
  assert.deepStrictEqual(socket.written, [SSL_REQUEST]);
  assert.deepStrictEqual([...(await transport.read())], [0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
  assert.equal(await transport.read(), null);
  await transport.close();
  assert.equal(upgraded.closed, true);

  // `tls: true` upgrades with the socket's own host name.
  const plain = scriptedSocket([[0x53]], { upgraded: scriptedSocket([]) });
  await socketTransport(plain, { tls: true });
  assert.deepStrictEqual(plain.tlsOptions, []);
});

test("socketTransport with tls refuses a server without TLS, injected bytes and a socket that cannot start TLS", async () => {
  const fails = async (socket, name, pattern) => {
    await assert.rejects(socketTransport(socket, { tls: true }), (error) => error.name === name && pattern.test(error.message));
    assert.equal(socket.closed, true, "the socket is closed on failure");
    assert.equal(socket.tlsOptions, undefined, "TLS was not started");
  };
  await fails(scriptedSocket([[0x4e]]), "KeelTransportError", /does not accept TLS/);
  // CVE-2021-23222: bytes after the S, before the handshake, would be
  // unauthenticated data spliced into the session.
  await fails(scriptedSocket([[0x53, 0x45, 0, 0, 0, 4]]), "KeelProtocolError", /unexpected bytes after/);
  await fails(scriptedSocket([[0x45]]), "KeelProtocolError", /unexpected answer to the TLS request \(byte 69\)/);
  await fails(scriptedSocket([]), "KeelTransportError", /closed the connection during the TLS request/);
  await fails(scriptedSocket([new Error("connection reset")]), "KeelTransportError", /TLS request failed: connection reset/);

  const noStartTls = scriptedSocket([[0x53]], { canStartTls: false });
  await fails(noStartTls, "KeelTransportError", /secureTransport: "starttls"/);
  assert.deepStrictEqual(noStartTls.written, [], "nothing is sent on a socket that cannot upgrade");

  // workerd throws from startTls on a socket opened without starttls.
  const refusing = scriptedSocket([[0x53]]);
  refusing.startTls = () => {
    throw new TypeError("The `secureTransport` socket option must be set to 'starttls' for startTls to be used.");
  };
  await assert.rejects(
    socketTransport(refusing, { tls: true }),
    (error) => error.name === "KeelTransportError" && /starting TLS failed/.test(error.message),
  );
  assert.equal(refusing.closed, true);
});

test("socketTransport with tls names a failure before the server's first bytes as the handshake's", async () => {
  // workerd reports an untrusted certificate as an opaque error on the
  // first I/O after startTls.
  const opaque = () => new Error("internal error; reference = x1");
  const beforeFirstRead = await socketTransport(scriptedSocket([[0x53]], { upgraded: scriptedSocket([opaque()]) }), { tls: true });
  await assert.rejects(
    beforeFirstRead.read(),
    (error) => error.name === "KeelTransportError" && /^TLS handshake failed .*: internal error; reference = x1$/.test(error.message),
  );

  // Once the server has answered, a failure is the connection's own.
  const later = await socketTransport(scriptedSocket([[0x53]], { upgraded: scriptedSocket([[0x5a], opaque()]) }), { tls: true });
  assert.deepStrictEqual([...(await later.read())], [0x5a]);
  await assert.rejects(later.read(), (error) => error.message === "internal error; reference = x1");

  // Without tls nothing is renamed.
  const plain = socketTransport(scriptedSocket([opaque()]));
  await assert.rejects(plain.read(), (error) => error.message === "internal error; reference = x1");
});
