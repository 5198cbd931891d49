// Worker-thread entry: load tsx's hooks in this thread (hooks registered by the parent do not
// reach worker threads on Node 20), then run the TypeScript fuzz loop.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
