/**
 * Keeps a live tunnel's identity fresh: the gateway ends a session when its token expires
 * (docs/PROTOCOL.md §Token renewal), so while a connection lives the client asks its token source
 * for the current token — often enough to notice a refresh well before expiry — and sends each
 * new one on the tunnel. Sources that cannot refresh (GATEHOUSE_TOKEN, GitLab) never produce a
 * new token: their sessions end at the token's expiry.
 */
import { tokenExpiry, type TokenSource } from "./token-source.ts";
import { describeError } from "../errors.ts";

/** Look at the source at most this often, and at least this often while the token lives. */
const MIN_POLL_MS = 500;
const MAX_POLL_MS = 15_000;

export function watchTokenRenewals(source: TokenSource, current: string | undefined, send: (token: string) => void, log: (line: string) => void): () => void {
  let last = current;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (stopped) return;
    const exp = last ? tokenExpiry(last) : undefined;
    const left = exp === undefined ? MAX_POLL_MS * 4 : exp * 1000 - Date.now();
    timer = setTimeout(tick, Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, left / 4)));
    timer.unref();
  };
  const tick = async () => {
    try {
      const token = await source.getToken();
      if (!stopped && token !== last) {
        last = token;
        send(token);
      }
    } catch (err) {
      if (!stopped) log(`gatehouse: could not renew the identity token: ${describeError(err)}`);
    }
    schedule();
  };
  schedule();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
