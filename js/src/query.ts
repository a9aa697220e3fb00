/**
 * Types for keel's JSON query format, version 1 (see docs/query-format.md,
 * whose every example the Rust test suite compiles). These mirror the serde
 * form of `keel_core::query` exactly.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonLiteral = JsonValue;

/** A PostgreSQL type name: `int4`, `text`, `timestamptz`, `text[]`, or a declared enum/domain. */
export type PgTypeName = string;

// ---------------------------------------------------------------- expressions

export type Expr =
  | { column: string }
  | { value: JsonValue }
  | { add: [Expr, Expr] }
  | { sub: [Expr, Expr] }
  | { mul: [Expr, Expr] }
  | { div: [Expr, Expr] }
  | { mod: [Expr, Expr] }
  | { neg: Expr }
  | { cast: { expr: Expr; type: PgTypeName } }
  | { func: { name: AllowedFunction; args?: Expr[] } }
  | { extract: { field: string; from: Expr } }
  | { agg: Aggregate }
  | { json_text: { expr: Expr; key: string } }
  | { json_get: { expr: Expr; key: string } }
  | { subquery: SelectDefinition }
  | { excluded: string }
  | { case: { when: { if: Filter; then: Expr }[]; else?: Expr } };

export type AllowedFunction =
  | "lower" | "upper" | "trim" | "btrim" | "ltrim" | "rtrim" | "length" | "char_length"
  | "concat" | "replace" | "substr" | "left" | "right" | "coalesce" | "nullif" | "greatest"
  | "least" | "abs" | "round" | "ceil" | "floor" | "now" | "date_trunc" | "age"
  | "array_length" | "cardinality" | "jsonb_array_length" | "jsonb_typeof" | "to_tsvector" | "md5";

export interface Aggregate {
  func: "count" | "sum" | "avg" | "min" | "max" | "string_agg" | "array_agg" | "json_agg" | "bool_and" | "bool_or";
  /** Absent for `count(*)`. */
  arg?: Expr;
  distinct?: boolean;
  /** `string_agg`'s separator. */
  separator?: string;
  order_by?: OrderBy[];
}

// -------------------------------------------------------------------- filters

/** `{column, value}`, or any two expressions as `{left, right}`. */
export type Compare = { column: string; value: JsonValue } | { left: Expr; right: Expr };

export type Filter =
  | { eq: Compare }
  | { ne: Compare }
  | { lt: Compare }
  | { lte: Compare }
  | { gt: Compare }
  | { gte: Compare }
  | { is_distinct_from: Compare }
  | { is_not_distinct_from: Compare }
  | { in: InList }
  | { not_in: InList }
  | { between: { column: string; low: JsonValue; high: JsonValue } }
  | { like: Pattern }
  | { ilike: Pattern }
  | { not_like: Pattern }
  | { not_ilike: Pattern }
  | { is_null: string }
  | { is_not_null: string }
  | { json_contains: { column: string; value: JsonValue } }
  | { json_has_key: { column: string; key: string } }
  | { array_contains: { column: string; value: JsonValue[] } }
  | { array_overlaps: { column: string; value: JsonValue[] } }
  | { text_search: { column: string; query: string; config?: string } }
  | { and: Filter[] }
  | { or: Filter[] }
  | { not: Filter }
  | { exists: SelectDefinition }
  | { not_exists: SelectDefinition }
  | { has: { relation: string; where?: Filter } }
  | { expr: Expr };

export type InList = { column: string; values: JsonValue[] } | { column: string; subquery: SelectDefinition };

export interface Pattern {
  column: string;
  pattern: string;
}

// --------------------------------------------------------------------- select

export type SelectItem = string | { expr: Expr; as: string };

export type OrderBy = ({ column: string } | { expr: Expr }) & {
  direction?: "asc" | "desc";
  nulls?: "first" | "last";
};

export interface Join {
  relation?: string;
  table?: string;
  as?: string;
  kind?: "inner" | "left";
  on?: Filter;
}

export interface Lock {
  strength: "update" | "no_key_update" | "share" | "key_share";
  of?: string[];
  wait?: "nowait" | "skip_locked";
}

export interface Cte {
  name: string;
  recursive?: boolean;
  query: QueryBody;
}

export interface Include {
  relation: string;
  columns?: string[];
  where?: Filter;
  order_by?: OrderBy[];
  with?: Include[];
}

export interface SelectDefinition {
  ctes?: Cte[];
  distinct?: boolean;
  distinct_on?: Expr[];
  from: string;
  as?: string;
  /** `"*"`: every column of `from` (minus `defer`). */
  columns: SelectItem[] | "*";
  defer?: string[];
  joins?: Join[];
  where?: Filter;
  group_by?: Expr[];
  having?: Filter;
  order_by?: OrderBy[];
  /** Keyset pagination: the `order_by` values of the last row seen. */
  after?: JsonValue[];
  limit?: number;
  offset?: number;
  lock?: Lock;
  /** Relations to load eagerly (a plan: one statement per level). */
  with?: Include[];
}

export interface SetQueryDefinition {
  op: "union" | "union_all" | "intersect" | "intersect_all" | "except" | "except_all";
  queries: SelectDefinition[];
  order_by?: OrderBy[];
  limit?: number;
  offset?: number;
}

// ------------------------------------------------------------------ mutations

export type InsertDefinition = {
  into: string;
  on_conflict?: OnConflict;
  returning?: SelectItem[];
} & ({ rows: Record<string, JsonValue>[] } | { select: { columns: string[]; query: SelectDefinition } });

export type OnConflict = ({ columns: string[] } | { constraint: string }) & {
  do: "nothing" | { update: { set: Record<string, Expr>; where?: Filter } };
};

export interface UpdateDefinition {
  table: string;
  set: Record<string, Expr>;
  where?: Filter;
  /** Required (instead of `where`) to update every row. */
  all_rows?: boolean;
  returning?: SelectItem[];
}

export interface DeleteDefinition {
  from: string;
  where?: Filter;
  /** Required (instead of `where`) to delete every row. */
  all_rows?: boolean;
  returning?: SelectItem[];
}

export interface RawDefinition {
  sql: string;
  params?: { value: JsonValue; type: PgTypeName }[];
  columns?: string[];
}

export type QueryBody =
  | { select: SelectDefinition }
  | { set_op: SetQueryDefinition }
  | { insert: InsertDefinition }
  | { update: UpdateDefinition }
  | { delete: DeleteDefinition }
  | { raw: RawDefinition };

/** `"values"` returns each row as an array of values in column order. */
export type RowShape = "objects" | "values";

export type QueryDefinition = { version: 1; row_shape?: RowShape } & QueryBody;

// --------------------------------------------------------------------- schema

export interface ColumnDefinition {
  name: string;
  type: PgTypeName;
  nullable?: boolean;
  /** SQL text, written into DDL as is. */
  default?: string;
}

export interface ForeignKeyDefinition {
  columns: string[];
  references: string;
  referenced_columns?: string[];
  /** The belongs-to relation on this table. */
  relation?: string;
  /** The has-many (or, with `inverse_one`, has-one) relation on the referenced table. */
  inverse?: string;
  inverse_one?: boolean;
  on_delete?: "cascade" | "restrict" | "set_null" | "no_action";
}

export interface IndexDefinition {
  name: string;
  columns: string[];
  unique?: boolean;
  include?: string[];
  where?: string;
  using?: string;
}

export interface TableDefinition {
  name: string;
  schema?: string;
  primary_key?: string[];
  columns: ColumnDefinition[];
  unique?: { name?: string; columns: string[] }[];
  foreign_keys?: ForeignKeyDefinition[];
  many_to_many?: { name: string; through: string; target: string }[];
  indexes?: IndexDefinition[];
}

export interface SchemaDefinition {
  tables: TableDefinition[];
  enums?: { name: string; values: string[] }[];
  domains?: { name: string; type: PgTypeName; not_null?: boolean; check?: string }[];
  views?: { name: string; query: SelectDefinition }[];
}
