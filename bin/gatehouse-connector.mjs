#!/usr/bin/env node
// The on-prem connector (connector/).
import { register } from "tsx/esm/api";
register();
const { main } = await import("../connector/main.ts");
process.exitCode = await main(process.argv.slice(2));
