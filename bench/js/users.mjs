// The diesel benchmark's `users` table (ANCHORS.md), shared by the js and
// workerd suites: created afresh with 10,000 rows named `User {i}` and a NULL
// hair_color, and its keel schema.
import pg from "pg";

export const ROWS = 10_000;

export const usersSchema = {
  tables: [
    {
      name: "users",
      primary_key: ["id"],
      columns: [
        { name: "id", type: "int4" },
        { name: "name", type: "varchar" },
        { name: "hair_color", type: "varchar", nullable: true },
      ],
    },
  ],
};

/** Ids spread over the table, the same sequence for every contender. */
export const idAt = (i) => ((i * 7919) % ROWS) + 1;

/** (Re)creates the table; resolves to the server's version. */
export async function createUsers(db) {
  const client = new pg.Client(db);
  await client.connect();
  try {
    await client.query("DROP TABLE IF EXISTS users");
    await client.query("CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR NOT NULL, hair_color VARCHAR)");
    await client.query("CREATE INDEX ON users (hair_color)");
    await client.query("INSERT INTO users (name) SELECT 'User ' || i FROM generate_series(0, $1 - 1) AS i", [ROWS]);
    await client.query("ANALYZE users");
    return (await client.query("SHOW server_version")).rows[0].server_version;
  } finally {
    await client.end();
  }
}
