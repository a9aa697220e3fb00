/**
 * The Cloudflare Workers entry point (the `workerd` export condition). Workers
 * refuse to compile wasm from bytes at run time, so the module is imported
 * here and bundlers (wrangler) hand it over already compiled.
 */
import wasm from "../wasm/keel_wasm_bg.wasm";
import { __setDefaultWasmSource } from "./index.js";

__setDefaultWasmSource(async () => wasm);

export * from "./index.js";
