/**
 * The Node.js entry point (the `node` export condition): the same API, with
 * the wasm read from the installed package, since Node cannot fetch `file:` URLs.
 */
import { readFile } from "node:fs/promises";
import { __setDefaultWasmSource } from "./index.js";

__setDefaultWasmSource(() => readFile(new URL("../wasm/keel_wasm_bg.wasm", import.meta.url)));

export * from "./index.js";
