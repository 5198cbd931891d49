/**
 * The listener's port on both loopback addresses, 127.0.0.1 and ::1.
 *
 * A port is per address: while the listener held only 127.0.0.1:<port>, any local user could
 * listen on [::1]:<port> (or [::]:<port>), and every client that says `localhost` and resolves it
 * to ::1 first — libpq and most getaddrinfo users where /etc/hosts has `::1 localhost`, as Debian's
 * default does — reached that process instead: it asks libpq for a cleartext password (the
 * listener's, from the pgpass `localhost` line) or reads curl's basic auth from the netrc
 * `localhost` line, and then rides the real listener with it. Holding both addresses leaves no
 * squatting place, and `localhost` simply works whichever address the client tries first.
 *
 * A machine without IPv6 (or without 127.0.0.1) has nothing there to squat: that twin is skipped.
 */
import net from "node:net";
import { CliError } from "../errors.ts";

/** Errors meaning "this address family does not exist here": nobody can listen there either. */
const ABSENT = new Set(["EADDRNOTAVAIL", "EAFNOSUPPORT", "EPROTONOSUPPORT"]);
/** With --port 0, how many free ports to try before giving up on one free on both addresses. */
const ATTEMPTS = 10;

function listen(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, onConnection);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, exclusive: true, ipv6Only: true }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function otherLoopback(address: string): string {
  return address === "::1" ? "127.0.0.1" : "::1";
}

/**
 * Listen on `host` (127.0.0.1, ::1 or localhost) and on the other loopback address with the same
 * port. Port 0 picks one free on both; a given port taken on either address is refused.
 */
export async function listenLoopbackTwins(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server[]> {
  for (let attempt = 1; ; attempt++) {
    let primary: net.Server;
    try {
      primary = await listen(host, port, onConnection);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new CliError(e.code === "EADDRINUSE" ? `port ${port} on ${host} is already in use (try --port 0)` : `cannot listen on ${host}:${port}: ${e.message}`);
    }
    const { address, port: bound } = primary.address() as net.AddressInfo;
    const twin = otherLoopback(address);
    try {
      return [primary, await listen(twin, bound, onConnection)];
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code && ABSENT.has(e.code)) return [primary];
      primary.close();
      if (e.code === "EADDRINUSE" && port === 0 && attempt < ATTEMPTS) continue;
      throw new CliError(
        e.code === "EADDRINUSE"
          ? `port ${bound} on ${twin} is already in use by another process; clients that resolve localhost to ${twin} would reach it instead of this listener (pick another --port)`
          : `cannot listen on ${twin}:${bound}: ${e.message}`,
      );
    }
  }
}
