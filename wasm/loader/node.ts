/** Node-only: load a compiled module from wasm/build/<name>.wasm (built by `node wasm/build.mjs`). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cache = new Map<string, WebAssembly.Module>();
// typed here: @types/node declares the WebAssembly namespace but not its constructors
const WasmModule = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => WebAssembly.Module } })
  .WebAssembly.Module;

export function loadWasmModule(name: string): WebAssembly.Module {
  const cached = cache.get(name);
  if (cached) return cached;
  const path = fileURLToPath(new URL(`../build/${name}.wasm`, import.meta.url));
  const module = new WasmModule(readFileSync(path));
  cache.set(name, module);
  return module;
}
