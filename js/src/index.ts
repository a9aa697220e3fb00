/**
 * keel for JavaScript: query definitions (plain JSON) compiled and decoded by
 * keel's Rust core in WebAssembly, over a WebSocket or an in-process PGlite.
 *
 * ```ts
 * await init(); // once: loads the wasm core
 * const schema = new Schema(schemaJson);
 * const client = await connect(pgliteTransport(pg), schema, { user: "postgres" });
 * const rows = await client.query(queryJson);
 * ```
 */
import initWasm, {
  Client as WasmClient,
  Schema as WasmSchema,
  compile as wasmCompile,
} from "../wasm/keel_wasm.js";
import type { QueryDefinition, SchemaDefinition } from "./query.js";

import { keelError } from "./errors.js";

export * from "./errors.js";
export * from "./query.js";
export * from "./transports.js";
import type { Transport } from "./transports.js";

export type Row = Record<string, unknown>;

export interface Statement {
  sql: string;
  /** Bound values in keel's canonical JSON form (int8 as a string). */
  params: unknown[];
}

export interface ConnectOptions {
  user: string;
  password?: string;
  database?: string;
  applicationName?: string;
  /** int8 columns as BigInt (default) or as decimal strings. */
  int8?: "bigint" | "string";
  /** timestamptz columns as Date (default, millisecond precision) or as RFC 3339 strings (microseconds kept). */
  timestamptz?: "date" | "string";
}

export type WasmSource = WebAssembly.Module | BufferSource | URL | string | Response;

let initialized: Promise<void> | undefined;
let ready = false;
let defaultSource: (() => Promise<WasmSource>) | undefined;

function assertReady(): void {
  if (!ready) {
    throw keelError("transport", "keel's wasm core is not loaded yet: `await init()` first");
  }
}

/**
 * @internal Lets a runtime-specific entry point (`node.js`, `workerd.js`)
 * say where the wasm comes from when `init()` is called without a source.
 */
export function __setDefaultWasmSource(source: () => Promise<WasmSource>): void {
  defaultSource = source;
}

/**
 * Loads the wasm core once; later calls return the same promise. Without an
 * argument the runtime's entry point decides: Node reads the bundled file,
 * workerd uses the module imported at build time, browsers fetch the file
 * next to this module.
 */
export function init(source?: WasmSource): Promise<void> {
  initialized ??= (async () => {
    const input = source ?? (defaultSource ? await defaultSource() : undefined);
    await initWasm(input === undefined ? undefined : { module_or_path: input });
    ready = true;
  })();
  return initialized;
}

function asJson(value: object | string): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A parsed schema; queries are checked against it before any I/O. */
export class Schema {
  /** @internal */
  readonly inner: WasmSchema;

  constructor(definition: SchemaDefinition | string) {
    assertReady();
    this.inner = new WasmSchema(asJson(definition));
  }
}

/** Compiles a query definition to SQL without running it. */
export function compile(schema: Schema, query: QueryDefinition | string): Statement {
  assertReady();
  return wasmCompile(schema.inner, asJson(query)) as Statement;
}

/** One PostgreSQL connection. Every method that talks to the server returns a promise. */
export class Client {
  readonly #inner: WasmClient;

  private constructor(inner: WasmClient) {
    this.#inner = inner;
  }

  /** @internal */
  static wrap(inner: WasmClient): Client {
    return new Client(inner);
  }

  /** Runs a definition and resolves to its rows as plain objects. */
  async query<R extends Row = Row>(query: QueryDefinition | string): Promise<R[]> {
    return (await this.#inner.query(asJson(query))) as R[];
  }

  /** Runs a definition and resolves to the statement that ran together with its rows. */
  async queryDetailed<R extends Row = Row>(
    query: QueryDefinition | string,
  ): Promise<Statement & { rows: R[] }> {
    return (await this.#inner.queryDetailed(asJson(query))) as Statement & { rows: R[] };
  }

  /** Ends the session (Terminate) and closes the transport. */
  async close(): Promise<void> {
    await this.#inner.close();
  }
}

/** Logs in over `transport` and resolves to a ready client. */
export async function connect(transport: Transport, schema: Schema, options: ConnectOptions): Promise<Client> {
  await init();
  const inner = (await WasmClient.connect(transport, schema.inner, options)) as WasmClient;
  return Client.wrap(inner);
}
