/**
 * Implicit pipelining: the queries issued on one connection in the same tick
 * are sent together, as one engine pipeline (one write), and each promise
 * settles on its own.
 */
import type { Client as WasmClient, Schema as WasmSchema } from "../wasm/keel_wasm.js";
import { compile as wasmCompile } from "../wasm/keel_wasm.js";
import { isKeelError, keelError } from "./errors.js";

/** Errors that mean the connection itself is gone or out of step. */
const CONNECTION_ERRORS = new Set(["transport", "closed", "protocol"]);

/** One queued `query` or `queryDetailed` call. */
interface Item {
  json: string;
  detailed: boolean;
  signal: AbortSignal | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  settled: boolean;
  /** Sent to the server and not yet answered. */
  inFlight: boolean;
}

interface Batch {
  items: Item[];
}

/** How a batch reserves its place among the other work on the connection. */
export type Reserve = (work: () => Promise<void>) => Promise<void>;

/**
 * A select with `with` runs as a plan of several statements, one relation
 * level after another, so it cannot share an engine pipeline.
 */
function isPlan(json: string): boolean {
  if (!json.includes('"with"')) return false;
  try {
    const definition = JSON.parse(json) as { select?: { with?: unknown } };
    const withs = definition.select?.with;
    return Array.isArray(withs) ? withs.length > 0 : withs !== undefined && withs !== null;
  } catch {
    // The wasm core reports the invalid definition when it runs.
    return false;
  }
}

function settle(item: Item, outcome: { value: unknown } | { error: unknown }): void {
  if (item.settled) return;
  item.settled = true;
  item.inFlight = false;
  if ("value" in outcome) item.resolve(outcome.value);
  else item.reject(outcome.error);
}

/**
 * Collects the queries issued while a batch waits for its turn and sends
 * them in one engine pipeline when the turn comes (a microtask later when the
 * connection is idle). A batch is sealed once it starts, or as soon as other
 * work (a transaction, a stream, an explicit pipeline) reserves a later turn,
 * so a query is never sent before something issued ahead of it.
 */
export class Batcher {
  #open: Batch | undefined;

  constructor(
    private readonly inner: WasmClient,
    private readonly schema: WasmSchema,
    private readonly reserve: Reserve,
    /** Best-effort CancelRequest for whatever the session is running now. */
    private readonly cancel: () => void,
  ) {}

  /** Stops adding to the waiting batch: later queries go in a new one. */
  seal(): void {
    this.#open = undefined;
  }

  enqueue(json: string, detailed: boolean, signal: AbortSignal | undefined): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const item: Item = { json, detailed, signal, resolve, reject, settled: false, inFlight: false };
      if (signal !== undefined) {
        const onAbort = () => this.#abort(item);
        signal.addEventListener("abort", onAbort, { once: true });
        const done = () => signal.removeEventListener("abort", onAbort);
        item.resolve = (value) => (done(), resolve(value));
        item.reject = (error) => (done(), reject(error));
      }
      let batch = this.#open;
      if (batch === undefined) {
        const fresh: Batch = { items: [] };
        batch = fresh;
        // The failure of a whole batch is delivered through its items.
        void this.reserve(() => this.#run(fresh)).catch((error: unknown) => {
          for (const waiting of fresh.items) settle(waiting, { error });
        });
        this.#open = fresh;
      }
      batch.items.push(item);
    });
  }

  /**
   * A query not sent yet is simply dropped. One in flight rejects at once; the
   * server is asked to cancel only when nothing else still wanted is in flight
   * with it, because a CancelRequest stops whatever statement the session is
   * running, which could be a neighbour's.
   */
  #abort(item: Item): void {
    if (item.settled || item.signal === undefined) return;
    const wasInFlight = item.inFlight;
    settle(item, { error: item.signal.reason });
    if (wasInFlight && this.#inFlight.every((other) => other.settled)) this.cancel();
  }

  #inFlight: Item[] = [];

  async #run(batch: Batch): Promise<void> {
    if (this.#open === batch) this.#open = undefined;
    // Consecutive plain statements share one pipeline; a plan runs alone.
    const segments: Item[][] = [];
    let current: Item[] = [];
    for (const item of batch.items) {
      if (isPlan(item.json)) {
        if (current.length > 0) segments.push(current);
        segments.push([item]);
        current = [];
      } else {
        current.push(item);
      }
    }
    if (current.length > 0) segments.push(current);
    for (const segment of segments) {
      const live = segment.filter((item) => !item.settled);
      if (live.length === 0) continue;
      this.#inFlight = live;
      for (const item of live) item.inFlight = true;
      try {
        if (live.length === 1) await this.#single(live[0]!);
        else await this.#pipeline(live);
      } finally {
        this.#inFlight = [];
      }
    }
  }

  async #single(item: Item): Promise<void> {
    try {
      const value: unknown = await (item.detailed ? this.inner.queryDetailed(item.json) : this.inner.query(item.json));
      settle(item, { value });
    } catch (error) {
      settle(item, { error });
    }
  }

  async #pipeline(items: Item[]): Promise<void> {
    // Per statement, its rows or the error it failed with.
    let results: unknown[];
    try {
      results = (await this.inner.pipeline(`[${items.map((i) => i.json).join(",")}]`)) as typeof results;
    } catch (error) {
      // A failed connection fails every query; anything else was refused
      // before any I/O, since the engine compiles and encodes a whole
      // pipeline first: find the culprits and run the rest.
      if (!isKeelError(error) || CONNECTION_ERRORS.has(error.kind)) throw error;
      const valid = items.filter((item) => {
        try {
          wasmCompile(this.schema, item.json);
          return true;
        } catch (invalid) {
          settle(item, { error: invalid });
          return false;
        }
      });
      if (valid.length < items.length) {
        if (valid.length === 1) await this.#single(valid[0]!);
        else if (valid.length > 1) await this.#pipeline(valid);
        return;
      }
      // Every one compiles (a parameter failed to encode, say): one at a time.
      for (const item of items) if (!item.settled) await this.#single(item);
      return;
    }
    items.forEach((item, i) => {
      const result = results[i];
      if (result === undefined) {
        settle(item, { error: keelError("protocol", "the pipeline returned fewer results than statements") });
      } else if (!Array.isArray(result)) {
        settle(item, { error: result });
      } else if (item.detailed) {
        // The statement is compiled again here, not sent again: queryDetailed's shape.
        try {
          settle(item, { value: { ...(wasmCompile(this.schema, item.json) as object), rows: result } });
        } catch (error) {
          settle(item, { error });
        }
      } else {
        settle(item, { value: result });
      }
    });
  }
}
