/**
 * Which development stack answers at an issuer URL: `gatehouse dev token` asks before it mints, so
 * a token signed with a key the running stack does not trust (another GATEHOUSE_HOME) is refused
 * with the fix, instead of being rejected later by the gateway as "untrusted".
 */
export interface RunningDevIssuer {
  url: string;
  /** Key ids its JWKS publishes. */
  kids: string[];
  /** The stack's GATEHOUSE_HOME, as the issuer reports it. */
  home?: string;
}

/** The development issuer serving at `url`, or undefined when none answers (nothing running, or not a Gatehouse dev issuer). */
export async function probeDevIssuer(url: string, timeoutMs = 1500): Promise<RunningDevIssuer | undefined> {
  const get = async (u: string) => {
    const res = await fetch(u, { signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
    return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
  };
  try {
    const discovery = await get(`${url.replace(/\/+$/, "")}/.well-known/openid-configuration`);
    if (!discovery || discovery.gatehouse_development_only !== true || typeof discovery.jwks_uri !== "string") return undefined;
    const jwks = await get(discovery.jwks_uri);
    const keys = Array.isArray(jwks?.keys) ? (jwks.keys as Array<{ kid?: unknown }>) : [];
    return { url, kids: keys.map((k) => k.kid).filter((k): k is string => typeof k === "string"), home: typeof discovery.gatehouse_home === "string" ? discovery.gatehouse_home : undefined };
  } catch {
    return undefined;
  }
}

/** Why a key must not be used with this running issuer, with the fix; undefined when it is the issuer's own key. */
export function keyMismatch(running: RunningDevIssuer, keyFile: string, kid: string | undefined): string | undefined {
  if (kid && running.kids.includes(kid)) return undefined;
  const stack = running.home ? `the stack in ${running.home}` : "another stack";
  return (
    `the development issuer running at ${running.url} is ${stack}; ${kid ? `the key in ${keyFile} is not its key` : `there is no key at ${keyFile}`}, ` +
    `so its gateway would reject the token.\n` +
    (running.home ? `  Use that stack's home: export GATEHOUSE_HOME=${running.home}` : "  Point GATEHOUSE_HOME at that stack's state directory (npm start prints it).")
  );
}
