/**
 * The Node.js entry point (the `node` export condition): the same API, with
 * the wasm read from the installed package, since Node cannot fetch `file:`
 * URLs, and `tcpTransport` backed by `node:net`/`node:tls`.
 */
import { readFile } from "node:fs/promises";
import { __setDefaultWasmSource, __setTcpTransport } from "./index.js";
import { nodeTcpTransport } from "./tcp.js";

__setDefaultWasmSource(() => readFile(new URL("../wasm/keel_wasm_bg.wasm", import.meta.url)));
__setTcpTransport(nodeTcpTransport);

export * from "./index.js";
