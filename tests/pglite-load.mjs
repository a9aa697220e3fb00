// Loads a psql script into PGlite. PGlite runs plain SQL with exec(), but a
// `COPY ... FROM stdin` block (as in Pagila's data file) needs its rows
// handed over as a blob, PGlite's stand-in for a client's COPY stream.
export async function loadPsqlScript(pg, script) {
  const lines = script.split("\n");
  let sql = [];
  const flush = async () => {
    const text = sql.join("\n").trim();
    sql = [];
    if (text) await pg.exec(text);
  };
  for (let i = 0; i < lines.length; i++) {
    const copy = /^COPY\s+(.+?)\s+FROM\s+stdin;\s*$/i.exec(lines[i]);
    if (!copy) {
      sql.push(lines[i]);
      continue;
    }
    await flush();
    const rows = [];
    for (i += 1; i < lines.length && lines[i] !== "\\."; i++) rows.push(lines[i]);
    const blob = new Blob([rows.length ? rows.join("\n") + "\n" : ""]);
    await pg.query(`COPY ${copy[1]} FROM '/dev/blob'`, [], { blob });
  }
  await flush();
}
