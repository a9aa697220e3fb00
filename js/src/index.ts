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
  setRowMaterializer,
} from "../wasm/keel_wasm.js";
import { materializeRows } from "./rows.js";
import type { QueryDefinition, SchemaDefinition } from "./query.js";
import { SelectBuilder, from as fromTable } from "./builder.js";

import { keelError } from "./errors.js";
import { Batcher } from "./batch.js";

export * from "./errors.js";
export * from "./builder.js";
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
  /**
   * Opens a second connection to the same server, used only to send a
   * CancelRequest when a query's AbortSignal fires (e.g.
   * `() => webSocketTransport(url)`). Without it an aborted query still
   * rejects at once, but runs on to its end on the server.
   */
  cancel?: () => Transport | Promise<Transport>;
}

export interface QueryOptions {
  /** Aborting rejects the query with the signal's reason and cancels it on the server. */
  signal?: AbortSignal;
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
    setRowMaterializer(materializeRows);
    ready = true;
  })();
  return initialized;
}

/** Something that is, or builds, a query definition. */
export type Definition = QueryDefinition | string | { toJSON(): QueryDefinition };

function asJson(value: Definition | SchemaDefinition): string {
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
export function compile(schema: Schema, query: Definition): Statement {
  assertReady();
  return wasmCompile(schema.inner, asJson(query)) as Statement;
}

export type IsolationLevel = "read committed" | "repeatable read" | "serializable";

export interface TransactionOptions {
  isolation?: IsolationLevel;
  readOnly?: boolean;
  /** Only meaningful with `serializable` and `readOnly`. */
  deferrable?: boolean;
}

const raw = (sql: string): QueryDefinition => ({ version: 1, raw: { sql } });

/** The statements that run on a connection, shared by a client and its transactions. */
interface Runs {
  query<R extends Row = Row>(query: Definition, options?: QueryOptions): Promise<R[]>;
  queryDetailed<R extends Row = Row>(query: Definition, options?: QueryOptions): Promise<Statement & { rows: R[] }>;
}

function builderOn(runs: Runs, table: string): SelectBuilder<Row> {
  return fromTable<Row>(table, { query: async <T>(d: QueryDefinition) => (await runs.query(d)) as T[] });
}

/**
 * One PostgreSQL connection. Every method that talks to the server returns
 * a promise. Queries issued in the same tick go out together in one write
 * (implicit pipelining) and settle one by one. While a transaction runs, the
 * client's own queries wait for it to end, so they can never land inside
 * someone else's transaction.
 */
export class Client implements Runs {
  readonly #inner: WasmClient;
  readonly #schema: WasmSchema;
  readonly #openCancel: (() => Transport | Promise<Transport>) | undefined;
  readonly #batcher: Batcher;
  #turn: Promise<void> = Promise.resolve();

  private constructor(inner: WasmClient, schema: WasmSchema, openCancel?: () => Transport | Promise<Transport>) {
    this.#inner = inner;
    this.#schema = schema;
    this.#openCancel = openCancel;
    this.#batcher = new Batcher(inner, schema, (work) => this.#exclusive(work), () => void this.#sendCancel());
  }

  /** @internal */
  static wrap(inner: WasmClient, schema: WasmSchema, openCancel?: () => Transport | Promise<Transport>): Client {
    return new Client(inner, schema, openCancel);
  }

  /**
   * Runs `work` once every earlier call on this connection has finished.
   * Queries issued after this call must not join a batch reserved before it.
   */
  async #exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.#batcher.seal();
    const previous = this.#turn;
    let release!: () => void;
    this.#turn = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }

  async #sendCancel(): Promise<void> {
    const bytes = this.#inner.cancelRequest();
    if (bytes === undefined || this.#openCancel === undefined) return;
    try {
      const transport = await this.#openCancel();
      await transport.write(bytes);
      // The server closes the cancel connection itself; wait for that, then let go.
      await transport.read().catch(() => null);
      await transport.close?.();
    } catch {
      // Cancelling is best effort: the query still ends, only later.
    }
  }

  /**
   * Runs a definition and resolves to its rows as plain objects. Sent with
   * the other queries issued in the same tick; an error rejects only this one.
   */
  query<R extends Row = Row>(query: Definition, options: QueryOptions = {}): Promise<R[]> {
    return this.#batcher.enqueue(asJson(query), false, options.signal) as Promise<R[]>;
  }

  /** Runs a definition and resolves to the statement that ran together with its rows. */
  queryDetailed<R extends Row = Row>(
    query: Definition,
    options: QueryOptions = {},
  ): Promise<Statement & { rows: R[] }> {
    return this.#batcher.enqueue(asJson(query), true, options.signal) as Promise<Statement & { rows: R[] }>;
  }

  /**
   * Runs several definitions together: statements this connection has run
   * before go out in one write (one round trip for all of them). Resolves to
   * one settled result per definition, in order, like `Promise.allSettled`:
   * one failing statement does not fail the others. Every definition is
   * compiled first, so an invalid one rejects the whole call before any I/O.
   */
  pipeline<R extends Row = Row>(queries: Definition[]): Promise<PromiseSettledResult<R[]>[]> {
    const json = `[${queries.map(asJson).join(",")}]`;
    return this.#exclusive(async () => {
      // Per definition, its rows or the error it failed with.
      const results = (await this.#inner.pipeline(json)) as unknown[];
      return results.map((r) =>
        Array.isArray(r) ? { status: "fulfilled" as const, value: r as R[] } : { status: "rejected" as const, reason: r },
      );
    });
  }

  /**
   * Streams a query's rows as an async iterator, reading them from the
   * server `batchSize` at a time through a portal: memory stays bounded by
   * one batch, and the next batch is only requested once the loop has
   * consumed the previous one. Leaving the loop early closes the portal.
   * The connection is held until the loop ends.
   *
   * ```ts
   * for await (const row of client.stream(from("track").orderBy("track_id"))) { ... }
   * ```
   */
  async *stream<R = Row>(query: Definition, options: { batchSize?: number } = {}): AsyncGenerator<R, void, undefined> {
    const json = asJson(query);
    const batchSize = options.batchSize ?? 1000;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw keelError("compile", `batchSize must be a positive integer, not ${batchSize}`);
    }
    // A one-slot hand-off between the wasm producer and this consumer.
    type Slot = { rows: R[]; resume: (more: boolean) => void } | { end: true } | { error: unknown };
    const slots: Slot[] = [];
    let wake: (() => void) | undefined;
    const put = (slot: Slot) => {
      slots.push(slot);
      wake?.();
    };
    const finished = this.#exclusive(() =>
      this.#inner.stream(json, batchSize, (rows: R[]) => new Promise<boolean>((resume) => put({ rows, resume }))),
    ).then(
      () => put({ end: true }),
      (error: unknown) => put({ error }),
    );
    let stop: ((more: boolean) => void) | undefined;
    try {
      for (;;) {
        while (slots.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const slot = slots.shift()!;
        if ("end" in slot) return;
        if ("error" in slot) throw slot.error;
        stop = slot.resume;
        yield* slot.rows;
        stop = undefined;
        slot.resume(true);
      }
    } finally {
      // Left the loop early (break, return, throw): close the portal and
      // wait until the connection is back in step.
      stop?.(false);
      await finished;
    }
  }

  /** Starts a builder bound to this client: `client.from("track").where(eq("album_id", 1)).all()`. */
  from<R extends Row = Row>(table: string): SelectBuilder<R> {
    return builderOn(this, table) as SelectBuilder<R>;
  }

  /**
   * Runs `work` in a transaction: committed when it resolves, rolled back
   * when it throws (the error is rethrown). Nest with `tx.savepoint(...)`.
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return this.#exclusive(async () => {
      // The transaction's own queries batch among themselves, in issue order.
      let turn: Promise<void> = Promise.resolve();
      const batcher = new Batcher(
        this.#inner,
        this.#schema,
        (work) => {
          const done = turn.then(work);
          turn = done.catch(() => undefined);
          return done;
        },
        () => void this.#sendCancel(),
      );
      const direct: Runs = {
        query: <R extends Row = Row>(q: Definition) => batcher.enqueue(asJson(q), false, undefined) as Promise<R[]>,
        queryDetailed: <R extends Row = Row>(q: Definition) =>
          batcher.enqueue(asJson(q), true, undefined) as Promise<Statement & { rows: R[] }>,
      };
      await direct.query(raw(beginStatement(options)));
      const tx = new Transaction(direct);
      try {
        const result = await work(tx);
        tx.end();
        await direct.query(raw("COMMIT"));
        return result;
      } catch (error) {
        tx.end();
        // The connection may be gone; the original error is the one to report.
        await direct.query(raw("ROLLBACK")).catch(() => undefined);
        throw error;
      }
    });
  }

  /** Ends the session (Terminate) and closes the transport. */
  async close(): Promise<void> {
    await this.#exclusive(() => this.#inner.close());
  }
}

function beginStatement(options: TransactionOptions): string {
  const parts = ["BEGIN"];
  if (options.isolation !== undefined) {
    const levels: Record<IsolationLevel, string> = {
      "read committed": "READ COMMITTED",
      "repeatable read": "REPEATABLE READ",
      serializable: "SERIALIZABLE",
    };
    const level = levels[options.isolation];
    if (level === undefined) throw keelError("compile", `unknown isolation level ${JSON.stringify(options.isolation)}`);
    parts.push(`ISOLATION LEVEL ${level}`);
  }
  if (options.readOnly !== undefined) parts.push(options.readOnly ? "READ ONLY" : "READ WRITE");
  if (options.deferrable !== undefined) parts.push(options.deferrable ? "DEFERRABLE" : "NOT DEFERRABLE");
  return parts.join(" ");
}

/**
 * A running transaction (or savepoint). It is only valid inside the callback
 * it was given to: afterwards every call fails with a KeelClosedError, so a
 * transaction cannot leak into later work.
 */
export class Transaction implements Runs {
  #active = true;
  #savepoints = 0;

  /** @internal */
  constructor(
    private readonly runs: Runs,
    private readonly depth = 0,
  ) {}

  /** @internal */
  end(): void {
    this.#active = false;
  }

  #check(): void {
    if (!this.#active) {
      throw keelError("closed", "this transaction has ended: use it only inside its callback");
    }
  }

  async query<R extends Row = Row>(query: Definition): Promise<R[]> {
    this.#check();
    return this.runs.query<R>(query);
  }

  async queryDetailed<R extends Row = Row>(query: Definition): Promise<Statement & { rows: R[] }> {
    this.#check();
    return this.runs.queryDetailed<R>(query);
  }

  from<R extends Row = Row>(table: string): SelectBuilder<R> {
    return builderOn(this, table) as SelectBuilder<R>;
  }

  /**
   * Runs `work` inside a savepoint: released when it resolves, rolled back to
   * (leaving the outer transaction usable) when it throws; the error is rethrown.
   */
  async savepoint<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    this.#check();
    const name = `keel_sp_${this.depth}_${this.#savepoints++}`;
    await this.runs.query(raw(`SAVEPOINT ${name}`));
    const inner = new Transaction(this.runs, this.depth + 1);
    try {
      const result = await work(inner);
      inner.end();
      await this.runs.query(raw(`RELEASE SAVEPOINT ${name}`));
      return result;
    } catch (error) {
      inner.end();
      await this.runs.query(raw(`ROLLBACK TO SAVEPOINT ${name}`)).catch(() => undefined);
      throw error;
    }
  }
}

export interface Notification {
  processId: number;
  channel: string;
  payload: string;
}

/** Opens a transport; what `listen` needs to reconnect on its own. */
export type TransportFactory = () => Transport | Promise<Transport>;

export interface ListenOptions extends ConnectOptions {
  /**
   * With a transport factory, a dropped connection is reopened with capped
   * exponential backoff (100 ms doubling up to 5 s by default, forever, until
   * `close()`), and every channel is listened to again. `false` turns that off.
   */
  reconnect?: false | { initialDelayMs?: number; maxDelayMs?: number };
}

/**
 * `disconnect` (with the `error` that ended the connection) and `reconnect`
 * (every channel is listened to again) on a {@link Listener}.
 */
export class ListenerEvent extends Event {
  constructor(
    type: "disconnect" | "reconnect",
    readonly error?: unknown,
  ) {
    super(type);
  }
}

interface ListenSession {
  inner: WasmClient;
  transport: Transport;
}

/**
 * A connection dedicated to LISTEN: iterate it to receive notifications as
 * they arrive; `close()` ends the iteration.
 *
 * ```ts
 * const listener = await listen(() => webSocketTransport(url), ["orders"], options);
 * listener.addEventListener("reconnect", () => refreshOrders());
 * for await (const { channel, payload } of listener) { ... }
 * ```
 *
 * Opened with a transport factory, it survives connection loss: the loss is
 * noticed while an iteration waits for the next notification, announced as a
 * `disconnect` event, and once a new connection listens on every channel
 * again, as a `reconnect` event; the iteration just goes on. PostgreSQL keeps
 * no notifications for a listener that is gone, so those sent in between are
 * lost: `reconnect` is the cue to re-read whatever they announce. Opened with
 * a transport object, a loss ends the iteration with its error.
 */
export class Listener extends EventTarget implements AsyncIterable<Notification> {
  #closed = false;
  #session: ListenSession;
  #reconnecting: Promise<void> | undefined;
  /** Wakes backoff sleeps when the listener closes. */
  readonly #wakers = new Set<() => void>();

  /** @internal */
  constructor(
    session: ListenSession,
    private readonly reopen: (() => Promise<ListenSession>) | undefined,
    private readonly backoff: { initialDelayMs: number; maxDelayMs: number },
  ) {
    super();
    this.#session = session;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Notification, void, undefined> {
    while (!this.#closed) {
      const session = this.#session;
      let notification: Notification;
      try {
        const [processId, channel, payload] = (await session.inner.nextNotification()) as [number, string, string];
        notification = { processId, channel, payload };
      } catch (error) {
        if (this.#closed) return;
        if (this.reopen === undefined) throw error;
        // The connection does nothing but listen, so any failure means it is gone.
        await this.#recover(session, error);
        continue;
      }
      yield notification;
    }
  }

  /** Replaces a failed session once, however many iterations noticed it. */
  #recover(failed: ListenSession, error: unknown): Promise<void> {
    if (this.#reconnecting) return this.#reconnecting;
    if (this.#session !== failed || this.reopen === undefined) return Promise.resolve();
    const reopen = this.reopen;
    this.#reconnecting = (async () => {
      this.dispatchEvent(new ListenerEvent("disconnect", error));
      // Frees the failed session's wasm side too; the transport is closed
      // again in case the client could not be (another iteration still on it).
      await failed.inner.close().catch(() => undefined);
      await closeQuietly(failed.transport);
      let delay = this.backoff.initialDelayMs;
      while (!this.#closed) {
        try {
          const next = await reopen();
          if (this.#closed) {
            await next.inner.close().catch(() => undefined);
            return;
          }
          this.#session = next;
          this.dispatchEvent(new ListenerEvent("reconnect"));
          return;
        } catch {
          await this.#sleep(delay);
          delay = Math.min(delay * 2, this.backoff.maxDelayMs);
        }
      }
    })().finally(() => (this.#reconnecting = undefined));
    return this.#reconnecting;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  /** Stops listening: closes the connection, which ends any iteration, and stops reconnecting. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of [...this.#wakers]) wake();
    await this.#session.transport.close?.();
  }
}

/** Closes a transport that is already failing; its own error adds nothing. */
async function closeQuietly(transport: Transport): Promise<void> {
  try {
    await transport.close?.();
  } catch {
    // The error that led here is the one worth reporting.
  }
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Opens a connection, LISTENs on `channels` (in one round trip) and returns a
 * {@link Listener}. Pass a transport factory (`() => webSocketTransport(url)`)
 * rather than a transport to have it reconnect after a connection loss. The
 * first connection must succeed: its failure rejects here.
 */
export async function listen(
  transport: Transport | TransportFactory,
  channels: string[],
  options: ListenOptions,
): Promise<Listener> {
  await init();
  const open = async (opened: Transport): Promise<ListenSession> => {
    try {
      const inner = (await WasmClient.connect(opened, new Schema({ tables: [] }).inner, options)) as WasmClient;
      const statements = channels.map((channel) => raw(`LISTEN ${quoteIdent(channel)}`));
      const results = (await inner.pipeline(JSON.stringify(statements))) as unknown[];
      for (const result of results) if (!Array.isArray(result)) throw result;
      return { inner, transport: opened };
    } catch (error) {
      await closeQuietly(opened);
      throw error;
    }
  };
  const factory = typeof transport === "function" ? transport : undefined;
  const first = await open(factory ? await factory() : (transport as Transport));
  const backoff = options.reconnect === false ? {} : (options.reconnect ?? {});
  const reopen = factory && options.reconnect !== false ? async () => open(await factory()) : undefined;
  return new Listener(first, reopen, {
    initialDelayMs: backoff.initialDelayMs ?? 100,
    maxDelayMs: backoff.maxDelayMs ?? 5000,
  });
}

/** Logs in over `transport` and resolves to a ready client. */
export async function connect(transport: Transport, schema: Schema, options: ConnectOptions): Promise<Client> {
  await init();
  const inner = (await WasmClient.connect(transport, schema.inner, options)) as WasmClient;
  return Client.wrap(inner, schema.inner, options.cancel);
}
