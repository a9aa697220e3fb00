/**
 * A typed builder for keel's JSON query format, mirroring the Rust builder.
 * Every method returns a new builder (they are immutable, so a base query
 * can be shared and extended), and `toJSON()` gives the plain definition,
 * exactly what a hand-written JSON file would hold.
 *
 * ```ts
 * const q = from("track").columns("track_id", "name").where(eq("album_id", 1)).orderBy("track_id").limit(10);
 * await client.query(q);            // or, bound to a client:
 * await client.from("track").where(gt("milliseconds", 300000)).with("album").all();
 * ```
 */
import type {
  Aggregate,
  Expr,
  Filter,
  Include,
  InsertDefinition,
  JsonValue,
  OnConflict,
  OrderBy,
  QueryDefinition,
  SelectDefinition,
  SelectItem,
  DeleteDefinition,
  UpdateDefinition,
} from "./query.js";

// ------------------------------------------------------------- expressions

export const col = (column: string): Expr => ({ column });
export const val = (value: JsonValue): Expr => ({ value });
export const add = (a: Expr, b: Expr): Expr => ({ add: [a, b] });
export const sub = (a: Expr, b: Expr): Expr => ({ sub: [a, b] });
export const mul = (a: Expr, b: Expr): Expr => ({ mul: [a, b] });
export const div = (a: Expr, b: Expr): Expr => ({ div: [a, b] });
export const cast = (expr: Expr, type: string): Expr => ({ cast: { expr, type } });
export const fn = (name: Extract<Expr, { func: unknown }>["func"]["name"], ...args: Expr[]): Expr => ({
  func: { name, args },
});
export const excluded = (column: string): Expr => ({ excluded: column });
export const caseWhen = (when: [Filter, Expr][], otherwise?: Expr): Expr => ({
  case: { when: when.map(([test, then]) => ({ if: test, then })), ...(otherwise === undefined ? {} : { else: otherwise }) },
});

function aggregate(func: Aggregate["func"], arg?: Expr, options: Omit<Aggregate, "func" | "arg"> = {}): Expr {
  return { agg: { func, ...(arg === undefined ? {} : { arg }), ...options } };
}
export const count = (arg?: Expr, options?: { distinct?: boolean }): Expr => aggregate("count", arg, options);
export const sum = (arg: Expr): Expr => aggregate("sum", arg);
export const avg = (arg: Expr): Expr => aggregate("avg", arg);
export const min = (arg: Expr): Expr => aggregate("min", arg);
export const max = (arg: Expr): Expr => aggregate("max", arg);
export const stringAgg = (arg: Expr, separator: string, orderBy?: OrderBy[]): Expr =>
  aggregate("string_agg", arg, { separator, ...(orderBy ? { order_by: orderBy } : {}) });
export const arrayAgg = (arg: Expr, orderBy?: OrderBy[]): Expr =>
  aggregate("array_agg", arg, orderBy ? { order_by: orderBy } : {});
export const jsonAgg = (arg: Expr): Expr => aggregate("json_agg", arg);

// ----------------------------------------------------------------- filters

type CompareOp = "eq" | "ne" | "lt" | "lte" | "gt" | "gte";
/**
 * `eq("album_id", 1)` compares a column with a literal (always bound);
 * `eq(col("a"), add(col("b"), val(1)))` compares two expressions. A literal
 * is never guessed to be an expression, since a jsonb literal may be any object.
 */
function compare(op: CompareOp, left: string | Expr, right: JsonValue | Expr): Filter {
  if (typeof left === "string") {
    return { [op]: { column: left, value: right as JsonValue } } as Filter;
  }
  return { [op]: { left, right: right as Expr } } as Filter;
}
type Compare = {
  (column: string, value: JsonValue): Filter;
  (left: Expr, right: Expr): Filter;
};
const comparison =
  (op: CompareOp): Compare =>
  (left: string | Expr, right: JsonValue | Expr) =>
    compare(op, left, right);
export const eq = comparison("eq");
export const ne = comparison("ne");
export const lt = comparison("lt");
export const lte = comparison("lte");
export const gt = comparison("gt");
export const gte = comparison("gte");
export const inList = (column: string, values: JsonValue[] | SelectBuilder): Filter =>
  Array.isArray(values) ? { in: { column, values } } : { in: { column, subquery: values.definition } };
export const notIn = (column: string, values: JsonValue[]): Filter => ({ not_in: { column, values } });
export const between = (column: string, low: JsonValue, high: JsonValue): Filter => ({ between: { column, low, high } });
export const like = (column: string, pattern: string): Filter => ({ like: { column, pattern } });
export const ilike = (column: string, pattern: string): Filter => ({ ilike: { column, pattern } });
export const notLike = (column: string, pattern: string): Filter => ({ not_like: { column, pattern } });
export const notIlike = (column: string, pattern: string): Filter => ({ not_ilike: { column, pattern } });
export const isDistinctFrom = (column: string, value: JsonValue): Filter => ({ is_distinct_from: { column, value } });
export const isNotDistinctFrom = (column: string, value: JsonValue): Filter => ({
  is_not_distinct_from: { column, value },
});
export const isNull = (column: string): Filter => ({ is_null: column });
export const isNotNull = (column: string): Filter => ({ is_not_null: column });
export const jsonContains = (column: string, value: JsonValue): Filter => ({ json_contains: { column, value } });
export const arrayContains = (column: string, value: JsonValue[]): Filter => ({ array_contains: { column, value } });
export const arrayOverlaps = (column: string, value: JsonValue[]): Filter => ({ array_overlaps: { column, value } });
export const textSearch = (column: string, query: string, config?: string): Filter => ({
  text_search: { column, query, ...(config === undefined ? {} : { config }) },
});
export const and = (...filters: Filter[]): Filter => ({ and: filters });
export const or = (...filters: Filter[]): Filter => ({ or: filters });
export const not = (filter: Filter): Filter => ({ not: filter });
export const has = (relation: string, where?: Filter): Filter => ({
  has: { relation, ...(where === undefined ? {} : { where }) },
});
export const exists = (query: SelectBuilder | SelectDefinition): Filter => ({ exists: selectOf(query) });

// ------------------------------------------------------------------ select

function selectOf(query: SelectBuilder | SelectDefinition): SelectDefinition {
  return query instanceof SelectBuilder ? query.definition : query;
}

/** Runs what a builder produced; the client supplies it for `client.from(...)`. */
export interface Runner {
  query<R>(definition: QueryDefinition): Promise<R[]>;
}

/** An eager-loaded relation's own options, built like a select. */
export class IncludeBuilder {
  constructor(readonly definition: Include) {}
  columns(...columns: string[]): IncludeBuilder {
    return new IncludeBuilder({ ...this.definition, columns });
  }
  where(filter: Filter): IncludeBuilder {
    const where = this.definition.where ? and(this.definition.where, filter) : filter;
    return new IncludeBuilder({ ...this.definition, where });
  }
  orderBy(column: string, direction: "asc" | "desc" = "asc"): IncludeBuilder {
    return new IncludeBuilder({ ...this.definition, order_by: [...(this.definition.order_by ?? []), { column, direction }] });
  }
  with(relation: string, configure?: (include: IncludeBuilder) => IncludeBuilder): IncludeBuilder {
    const child = (configure ?? ((i) => i))(new IncludeBuilder({ relation })).definition;
    return new IncludeBuilder({ ...this.definition, with: [...(this.definition.with ?? []), child] });
  }
}

export class SelectBuilder<R = Record<string, unknown>> {
  constructor(
    readonly definition: SelectDefinition,
    private readonly runner?: Runner,
    private readonly shape: "objects" | "values" = "objects",
  ) {}

  private next(changes: Partial<SelectDefinition>): SelectBuilder<R> {
    return new SelectBuilder<R>({ ...this.definition, ...changes }, this.runner, this.shape);
  }

  /** Values-style rows: each row an array of values in column order. */
  values(): SelectBuilder<unknown[]> {
    return new SelectBuilder<unknown[]>(this.definition, this.runner, "values");
  }

  /** Columns (`"name"`, `"album.title"`) or `[expr, alias]` pairs; all columns when never called. */
  columns(...items: (string | [Expr, string])[]): SelectBuilder<R> {
    const current = this.definition.columns === "*" ? [] : this.definition.columns;
    const added: SelectItem[] = items.map((i) => (typeof i === "string" ? i : { expr: i[0], as: i[1] }));
    return this.next({ columns: [...current, ...added] });
  }
  defer(...columns: string[]): SelectBuilder<R> {
    return this.next({ defer: [...(this.definition.defer ?? []), ...columns] });
  }
  as(alias: string): SelectBuilder<R> {
    return this.next({ as: alias });
  }
  /** Calling it again ANDs the filters, as the Rust builder does. */
  where(filter: Filter): SelectBuilder<R> {
    return this.next({ where: this.definition.where ? and(this.definition.where, filter) : filter });
  }
  join(relation: string, options: { kind?: "inner" | "left"; as?: string } = {}): SelectBuilder<R> {
    return this.next({ joins: [...(this.definition.joins ?? []), { relation, ...options }] });
  }
  leftJoin(relation: string, options: { as?: string } = {}): SelectBuilder<R> {
    return this.join(relation, { ...options, kind: "left" });
  }
  joinOn(table: string, on: Filter, options: { kind?: "inner" | "left"; as?: string } = {}): SelectBuilder<R> {
    return this.next({ joins: [...(this.definition.joins ?? []), { table, on, ...options }] });
  }
  orderBy(column: string | Expr, direction: "asc" | "desc" = "asc", nulls?: "first" | "last"): SelectBuilder<R> {
    const key = typeof column === "string" ? { column } : { expr: column };
    const order: OrderBy = { ...key, direction, ...(nulls === undefined ? {} : { nulls }) };
    return this.next({ order_by: [...(this.definition.order_by ?? []), order] });
  }
  /** Keyset pagination: the row after `cursor` in `order_by` order. */
  after(...cursor: JsonValue[]): SelectBuilder<R> {
    return this.next({ after: cursor });
  }
  limit(limit: number): SelectBuilder<R> {
    return this.next({ limit });
  }
  offset(offset: number): SelectBuilder<R> {
    return this.next({ offset });
  }
  distinct(): SelectBuilder<R> {
    return this.next({ distinct: true });
  }
  distinctOn(...exprs: (string | Expr)[]): SelectBuilder<R> {
    return this.next({ distinct_on: exprs.map((e) => (typeof e === "string" ? col(e) : e)) });
  }
  groupBy(...exprs: (string | Expr)[]): SelectBuilder<R> {
    return this.next({ group_by: exprs.map((e) => (typeof e === "string" ? col(e) : e)) });
  }
  having(filter: Filter): SelectBuilder<R> {
    return this.next({ having: filter });
  }
  forUpdate(wait?: "nowait" | "skip_locked"): SelectBuilder<R> {
    return this.next({ lock: { strength: "update", ...(wait === undefined ? {} : { wait }) } });
  }
  forShare(wait?: "nowait" | "skip_locked"): SelectBuilder<R> {
    return this.next({ lock: { strength: "share", ...(wait === undefined ? {} : { wait }) } });
  }
  /** Eager-loads a relation with one batched statement per level (never one per row). */
  with(relation: string, configure?: (include: IncludeBuilder) => IncludeBuilder): SelectBuilder<R> {
    const include = (configure ?? ((i) => i))(new IncludeBuilder({ relation })).definition;
    return this.next({ with: [...(this.definition.with ?? []), include] });
  }

  toJSON(): QueryDefinition {
    const query: QueryDefinition = { version: 1, select: this.definition };
    return this.shape === "values" ? { ...query, row_shape: "values" } : query;
  }

  private bound(): Runner {
    if (!this.runner) {
      throw new Error("this builder is not bound to a client: start it with client.from(...), or pass toJSON() to client.query");
    }
    return this.runner;
  }
  /** Every row. */
  all(): Promise<R[]> {
    return this.bound().query<R>(this.toJSON());
  }
  /** The first row, or null. */
  async first(): Promise<R | null> {
    const rows = await this.bound().query<R>(this.limit(1).toJSON());
    return rows[0] ?? null;
  }
}

export function from<R = Record<string, unknown>>(table: string, runner?: Runner): SelectBuilder<R> {
  return new SelectBuilder<R>({ from: table, columns: "*" }, runner);
}

// --------------------------------------------------------------- mutations

export class InsertBuilder {
  constructor(readonly definition: InsertDefinition) {}
  onConflictDoNothing(...columns: string[]): InsertBuilder {
    const on_conflict: OnConflict = { columns, do: "nothing" };
    return new InsertBuilder({ ...this.definition, on_conflict });
  }
  /** `ON CONFLICT (columns) DO UPDATE SET ...`; use `excluded("col")` for the proposed value. */
  onConflictUpdate(columns: string[], set: Record<string, Expr>, where?: Filter): InsertBuilder {
    const update = { set, ...(where === undefined ? {} : { where }) };
    return new InsertBuilder({ ...this.definition, on_conflict: { columns, do: { update } } });
  }
  returning(...columns: string[]): InsertBuilder {
    return new InsertBuilder({ ...this.definition, returning: columns });
  }
  toJSON(): QueryDefinition {
    return { version: 1, insert: this.definition };
  }
}

export function insertInto(table: string, rows: Record<string, JsonValue>[]): InsertBuilder {
  return new InsertBuilder({ into: table, rows });
}

export class UpdateBuilder {
  constructor(readonly definition: UpdateDefinition) {}
  /** Sets a column to a literal (bound as a parameter). */
  set(column: string, value: JsonValue): UpdateBuilder {
    return this.setExpr(column, val(value));
  }
  /** Sets a column to an expression: `setExpr("stock", sub(col("stock"), val(1)))`. */
  setExpr(column: string, expr: Expr): UpdateBuilder {
    return new UpdateBuilder({ ...this.definition, set: { ...this.definition.set, [column]: expr } });
  }
  where(filter: Filter): UpdateBuilder {
    const where = this.definition.where ? and(this.definition.where, filter) : filter;
    return new UpdateBuilder({ ...this.definition, where });
  }
  /** Required to update every row: an UPDATE without a filter is refused otherwise. */
  allRows(): UpdateBuilder {
    return new UpdateBuilder({ ...this.definition, all_rows: true });
  }
  returning(...columns: string[]): UpdateBuilder {
    return new UpdateBuilder({ ...this.definition, returning: columns });
  }
  toJSON(): QueryDefinition {
    return { version: 1, update: this.definition };
  }
}

export function update(table: string): UpdateBuilder {
  return new UpdateBuilder({ table, set: {} });
}

export class DeleteBuilder {
  constructor(readonly definition: DeleteDefinition) {}
  where(filter: Filter): DeleteBuilder {
    const where = this.definition.where ? and(this.definition.where, filter) : filter;
    return new DeleteBuilder({ ...this.definition, where });
  }
  allRows(): DeleteBuilder {
    return new DeleteBuilder({ ...this.definition, all_rows: true });
  }
  returning(...columns: string[]): DeleteBuilder {
    return new DeleteBuilder({ ...this.definition, returning: columns });
  }
  toJSON(): QueryDefinition {
    return { version: 1, delete: this.definition };
  }
}

export function deleteFrom(table: string): DeleteBuilder {
  return new DeleteBuilder({ from: table });
}
