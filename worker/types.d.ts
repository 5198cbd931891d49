// Wrangler bundles *.wasm imports as precompiled WebAssembly.Module (see [[rules]] in wrangler.toml).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.sql" {
  const text: string;
  export default text;
}
