// tcpTransport: Node talks to PostgreSQL over node:net with no proxy (SCRAM
// login on the test server), runs queries, transactions and streams, cancels
// through a second TCP connection, and upgrades to TLS the PostgreSQL way
// (SSLRequest, then the handshake, with the certificate verified).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { Schema, connect, init, tcpTransport } from "keel-orm";
import { selfSignedCertificate, server, startTcpRelay } from "../../tests/support.mjs";

const raw = (sql, columns) => ({ version: 1, raw: { sql, ...(columns ? { columns } : {}) } });
const relays = [];
after(async () => {
  for (const relay of relays) await relay.stop();
});

function options(pg, extra = {}) {
  return { user: pg.user, password: pg.password, database: "music", ...extra };
}

test("over TCP: queries, a transaction, a stream and a cancel on a second connection", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await init();
  const where = { host: pg.host, port: Number(pg.port) };
  const schema = new Schema({ tables: [] });
  const client = await connect(await tcpTransport(where), schema, options(pg, { cancel: () => tcpTransport(where) }));
  try {
    const [{ method }] = await client.query(
      raw("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS method FROM pg_authid WHERE rolname = current_user", ["method"]),
    );
    assert.equal(method, true, "the login above used a SCRAM-SHA-256 password");
    assert.deepStrictEqual(
      await Promise.all([client.query(raw("SELECT 1 AS one", ["one"])), client.query(raw("SELECT 2 AS two", ["two"]))]),
      [[{ one: 1 }], [{ two: 2 }]],
    );

    await client.query(raw("CREATE TEMP TABLE keel_tcp (id int4)"));
    await client.transaction(async (tx) => {
      await tx.query(raw("INSERT INTO keel_tcp VALUES (1), (2)"));
    });
    await client
      .transaction(async (tx) => {
        await tx.query(raw("INSERT INTO keel_tcp VALUES (3)"));
        throw new Error("roll back");
      })
      .catch(() => undefined);
    assert.deepStrictEqual(await client.query(raw("SELECT id FROM keel_tcp ORDER BY id", ["id"])), [{ id: 1 }, { id: 2 }]);

    // 50,000 rows through a portal, 1,000 at a time.
    let count = 0;
    let sum = 0;
    for await (const row of client.stream(raw("SELECT g AS n, repeat('x', 100) AS pad FROM generate_series(1, 50000) g", ["n", "pad"]))) {
      count++;
      sum += row.n;
    }
    assert.equal(count, 50000);
    assert.equal(sum, (50000 * 50001) / 2);

    const controller = new AbortController();
    const sleeping = client.query(raw("SELECT pg_sleep(20)"), { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(sleeping, (error) => error.name === "AbortError");
    const next = performance.now();
    assert.deepStrictEqual(await client.query(raw("SELECT 42 AS answer", ["answer"])), [{ answer: 42 }]);
    assert.ok(performance.now() - next < 2000, "the sleep was cancelled on the server through a second TCP connection");
  } finally {
    await client.close();
  }
});

test("over TCP: TLS is negotiated with SSLRequest, verified, and refused clearly", async (t) => {
  const pg = server(t);
  if (!pg) return;
  await init();
  const schema = new Schema({ tables: [] });

  // The test server speaks no TLS: it answers the SSLRequest with N.
  await assert.rejects(
    tcpTransport({ host: pg.host, port: Number(pg.port), tls: true }),
    (error) => error.name === "KeelTransportError" && /does not accept TLS/.test(error.message),
  );
  await assert.rejects(
    tcpTransport({ host: "127.0.0.1", port: 1 }),
    (error) => error.name === "KeelTransportError" && /127\.0\.0\.1:1/.test(error.message),
  );

  const certificate = await selfSignedCertificate();
  if (certificate === null) {
    t.diagnostic("openssl is not installed: skipped the TLS handshake half");
    return;
  }
  const relay = await startTcpRelay({ target: `${pg.host}:${pg.port}`, tls: certificate });
  relays.push(relay);
  const where = { host: "localhost", port: relay.port };

  // Not signed by a trusted CA: refused during the handshake.
  await assert.rejects(tcpTransport({ ...where, tls: true }), (error) => error.name === "KeelTransportError" && /TLS handshake/.test(error.message));

  // Signed by a trusted CA but for another name: reaching the same relay by
  // IP address, which the certificate (DNS:localhost only) does not hold.
  await assert.rejects(
    tcpTransport({ host: "127.0.0.1", port: relay.port, tls: { ca: certificate.cert } }),
    (error) => error.name === "KeelTransportError" && /TLS handshake/.test(error.message) && /127\.0\.0\.1/.test(error.message),
  );

  const client = await connect(await tcpTransport({ ...where, tls: { ca: certificate.cert } }), schema, options(pg));
  try {
    assert.deepStrictEqual(await client.query(raw("SELECT 'secret' AS word", ["word"])), [{ word: "secret" }]);
  } finally {
    await client.close();
  }
});

test("tcpTransport stops reading while keel is behind, and loses nothing", async () => {
  // A peer that sends 32 MiB at once; the transport is read only later.
  const total = 32 << 20;
  const payload = new Uint8Array(total).map((_, i) => i % 251);
  const peer = net.createServer((socket) => {
    peer.socket = socket;
    socket.write(payload);
    socket.end();
  });
  peer.listen(0, "127.0.0.1");
  await once(peer, "listening");
  try {
    const transport = await tcpTransport({ host: "127.0.0.1", port: peer.address().port });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Paused at 1 MiB unread: the rest waits in the kernel and in the peer.
    assert.ok(peer.socket.writableLength > 0, "the peer is held back");
    let received = 0;
    let intact = true;
    for (let bytes; (bytes = await transport.read()) !== null; ) {
      for (let i = 0; i < bytes.length; i += 4099) intact &&= bytes[i] === (received + i) % 251;
      received += bytes.length;
    }
    assert.equal(received, total);
    assert.ok(intact, "the bytes arrived in order");
    await transport.close();
  } finally {
    peer.close();
  }
});
