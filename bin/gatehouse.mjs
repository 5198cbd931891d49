#!/usr/bin/env node
// The `gatehouse` CLI (client/). TypeScript is loaded through tsx so the repo needs no build step.
import { register } from "tsx/esm/api";
register();
const { main } = await import("../client/cli.ts");
process.exitCode = await main(process.argv.slice(2));
