/**
 * Notice when whoever started us is gone, so `npm start` never leaves a stack running with nobody
 * to stop it. `npm start` runs us as npm → sh → node, and sh does not pass signals on: when npm
 * is killed, sh may live on (we keep our parent) or die (we are re-parented). So we watch the
 * parent and, when it is the script shell npm spawned, npm above it too.
 */
import { readFileSync } from "node:fs";

/** The parent pid of `pid` (Linux /proc), or undefined where that cannot be read. */
export function parentOf(pid: number): number | undefined {
  try {
    // Field 4 of /proc/<pid>/stat; the command name (field 2) may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Pids to watch: our parent, and its parent when we run as an npm script (npm_lifecycle_event set). */
export function ancestorsToWatch(env: NodeJS.ProcessEnv = process.env): number[] {
  const pids = [process.ppid];
  if (env.npm_lifecycle_event) {
    const grand = parentOf(process.ppid);
    if (grand !== undefined && grand > 1) pids.push(grand);
  }
  return pids.filter((p) => p > 1);
}

/** Calls `onGone` once when we are re-parented or a watched ancestor exits. Returns a stop function. */
export function watchParent(onGone: (why: string) => void, intervalMs = 1000): () => void {
  const originalParent = process.ppid;
  const watched = ancestorsToWatch();
  const timer = setInterval(() => {
    const why = process.ppid !== originalParent ? `parent process ${originalParent} exited` : watched.filter((p) => !alive(p)).map((p) => `ancestor process ${p} exited`)[0];
    if (why) {
      clearInterval(timer);
      onGone(why);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
