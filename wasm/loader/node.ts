/** Node-only: load a compiled module from wasm/build/<name>.wasm (built by `node wasm/build.mjs`). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cache = new Map<string, WebAssembly.Module>();

export function loadWasmModule(name: string): WebAssembly.Module {
  let module = cache.get(name);
  if (!module) {
    const path = fileURLToPath(new URL(`../build/${name}.wasm`, import.meta.url));
    module = new WebAssembly.Module(readFileSync(path));
    cache.set(name, module);
  }
  return module;
}
