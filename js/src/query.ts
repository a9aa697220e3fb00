/** Types for keel's JSON query format, version 1 (see docs/query-format.md). */

export type JsonLiteral = string | number | boolean | null;

export type Filter = { eq: { column: string; value: JsonLiteral } };

export interface OrderBy {
  column: string;
  direction?: "asc" | "desc";
}

export interface SelectDefinition {
  from: string;
  columns: string[];
  where?: Filter;
  order_by?: OrderBy[];
  limit?: number;
}

export interface QueryDefinition {
  version: 1;
  select: SelectDefinition;
}

export interface ColumnDefinition {
  name: string;
  type: "bool" | "int2" | "int4" | "int8" | "float4" | "float8" | "numeric" | "text" | "varchar" | "timestamptz";
  nullable?: boolean;
}

export interface TableDefinition {
  name: string;
  schema?: string;
  primary_key?: string[];
  columns: ColumnDefinition[];
}

export interface SchemaDefinition {
  tables: TableDefinition[];
}
