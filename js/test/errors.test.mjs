// Every error class the package raises, each provoked the way it happens in
// use. The protocol and decode cases need bytes no healthy server sends, so
// they use a scripted transport: it stands in for the server at the
// transport interface, which is the layer those errors come from.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Schema, connect, init, isKeelError } from "keel-orm";

let schema;
before(async () => {
  await init();
  schema = new Schema({
    tables: [{ name: "t", columns: [{ name: "n", type: "int4" }] }],
  });
});

/** One backend message: tag, int32 length, body. */
function message(tag, ...parts) {
  const body = Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : p)));
  const head = Buffer.alloc(5);
  head.write(tag, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const int16 = (v) => Buffer.from([v >> 8, v & 0xff]);
const int32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const loginOk = Buffer.concat([message("R", int32(0)), message("Z", "I")]);

/** A transport that answers the n-th write with replies[n]. */
function scripted(replies) {
  const queue = [];
  let writes = 0;
  return {
    write() {
      const reply = replies[writes++];
      if (reply !== undefined) queue.push(new Uint8Array(reply));
    },
    async read() {
      return queue.shift() ?? null;
    },
    close() {},
  };
}

test("KeelProtocolError: bytes that are not PostgreSQL", async () => {
  const transport = scripted([Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n")]);
  await assert.rejects(connect(transport, schema, { user: "u" }), (error) => {
    assert.ok(isKeelError(error));
    assert.equal(error.name, "KeelProtocolError");
    assert.equal(error.kind, "protocol");
    return true;
  });
});

test("KeelDecodeError: a cell whose bytes do not fit its type, naming the column", async () => {
  const rowDescription = message("T", int16(1), "n\0", int32(0), int16(0), int32(23), int16(4), int32(-1), int16(1));
  const badRow = message("D", int16(1), int32(2), Buffer.from([0, 7]));
  // keel prepares a new statement first (Parse, Describe, Flush), then binds
  // and executes it once it knows the result types.
  const transport = scripted([
    loginOk,
    Buffer.concat([message("1"), message("t", int16(0)), rowDescription]),
    Buffer.concat([message("2"), badRow, message("C", "SELECT 1\0"), message("Z", "I")]),
  ]);
  const client = await connect(transport, schema, { user: "u" });
  await assert.rejects(client.query({ version: 1, select: { from: "t", columns: ["n"] } }), (error) => {
    assert.equal(error.name, "KeelDecodeError");
    assert.equal(error.kind, "decode");
    assert.match(error.message, /column "n"/);
    return true;
  });
});

test("KeelTransportError: the transport itself fails", async () => {
  const transport = {
    write() {},
    read: () => Promise.reject(new Error("socket reset by peer")),
  };
  await assert.rejects(connect(transport, schema, { user: "u" }), (error) => {
    assert.equal(error.name, "KeelTransportError");
    assert.match(error.message, /socket reset by peer/);
    return true;
  });
});

test("KeelClosedError: the connection ends in the middle of a query", async () => {
  // Login succeeds, then the stream ends before the query's reply.
  const client = await connect(scripted([loginOk]), schema, { user: "u" });
  await assert.rejects(client.query({ version: 1, select: { from: "t", columns: ["n"] } }), (error) => {
    assert.equal(error.name, "KeelClosedError");
    assert.equal(error.kind, "closed");
    return true;
  });
});
