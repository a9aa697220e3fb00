/** The classes of error keel raises; `error.name` is `Keel${Kind}Error`. */
export type KeelErrorKind =
  | "compile"
  | "auth"
  | "server"
  | "protocol"
  | "decode"
  | "transport"
  | "closed";

/**
 * The shape of every error keel throws or rejects with. The wasm core creates
 * them as plain `Error`s with these extra fields, so they cross the
 * wasm boundary without wrapping.
 */
export interface KeelError extends Error {
  kind: KeelErrorKind;
  /** SQLSTATE, for server and authentication errors. */
  code?: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: number;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  /** For compile errors: the model (table) the definition names. */
  model?: string;
}

const KINDS = new Set<string>(["compile", "auth", "server", "protocol", "decode", "transport", "closed"]);

export function isKeelError(error: unknown): error is KeelError {
  if (!(error instanceof Error)) return false;
  const kind: unknown = (error as Partial<KeelError>).kind;
  return typeof kind === "string" && KINDS.has(kind);
}

export function keelError(kind: KeelErrorKind, message: string): KeelError {
  const error = new Error(message) as KeelError;
  error.name = `Keel${kind[0]!.toUpperCase()}${kind.slice(1)}Error`;
  error.kind = kind;
  return error;
}
