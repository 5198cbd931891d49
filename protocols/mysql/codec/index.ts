export * from "./errors.ts";
export * from "./bytes.ts";
export * from "./constants.ts";
export * from "./packets.ts";
export * from "./handshake.ts";
export * from "./responses.ts";
export * from "./commands.ts";
export * from "./resultset.ts";
