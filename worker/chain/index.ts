/** The shared filter chain: types, runner and the shared filters (docs/ARCHITECTURE.md, "Filter chain"). */
export * from "./types.ts";
export { FilterChain } from "./chain.ts";
