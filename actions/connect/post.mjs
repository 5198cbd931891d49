// Post step (runs when the job ends, also after a failure): stop the tunnel and show its log.
import { existsSync, readFileSync } from "node:fs";
import { fail, getState, info } from "./runner.mjs";

async function post() {
  const pid = Number(getState("pid"));
  if (!Number.isInteger(pid) || pid <= 0) return info("gatehouse: no tunnel to close");
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) {
    process.kill(-pid, "SIGTERM"); // the whole group connect runs in
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive()) process.kill(-pid, "SIGKILL");
  }
  const log = getState("log");
  if (log && existsSync(log)) {
    info("::group::gatehouse connect log");
    info(readFileSync(log, "utf8").trimEnd());
    info("::endgroup::");
  }
  info("gatehouse: tunnel closed");
}

post().catch((err) => fail(err.message));
