/** A `.wasm` import on Workers: the runtime hands over a compiled module. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
