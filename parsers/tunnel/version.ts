/**
 * Tunnel protocol versions. Clients and connectors announce the version they speak — clients in
 * the WebSocket subprotocol (`gatehouse.v<N>`), connectors in it and in `hello.version` — and the
 * gateway refuses a version it does not speak with a message naming both sides and what to
 * upgrade, instead of a bare "unsupported protocol". Releases (0.1.0…) ride along for the message;
 * only the protocol number decides.
 */
export const TUNNEL_PROTOCOL_VERSION = 1;

/** Versions offered in a Sec-WebSocket-Protocol header (`gatehouse.v<N>` entries; others ignored). */
export function offeredTunnelVersions(header: string | null | undefined): number[] {
  const out: number[] = [];
  for (const part of (header ?? "").split(",")) {
    const m = /^gatehouse\.v([1-9]\d{0,3})$/.exec(part.trim());
    if (m) out.push(Number(m[1]));
  }
  return out;
}

export type VersionPeer = "client" | "connector";

/**
 * Why a peer's protocol versions cannot be served, or null when one of them is ours.
 * `peerRelease` is what the peer says of itself (User-Agent / hello), shown but never trusted.
 */
export function tunnelVersionMismatch(peer: VersionPeer, offered: readonly number[], gatewayRelease: string, peerRelease?: string): string | null {
  if (offered.includes(TUNNEL_PROTOCOL_VERSION)) return null;
  const who = peer === "client" ? "this gatehouse CLI" : "this connector";
  const release = peerRelease ? ` (${peerRelease})` : "";
  if (offered.length === 0) {
    return `${who}${release} did not offer a Gatehouse tunnel protocol; the gateway (release ${gatewayRelease}) speaks gatehouse.v${TUNNEL_PROTOCOL_VERSION}`;
  }
  const theirs = offered.map((v) => `gatehouse.v${v}`).join(", ");
  const newer = Math.max(...offered) > TUNNEL_PROTOCOL_VERSION;
  const fix = newer
    ? `upgrade the gateway to a release that speaks ${theirs}, or use a ${peer === "client" ? "CLI" : "connector"} release for gatehouse.v${TUNNEL_PROTOCOL_VERSION}`
    : `upgrade the ${peer === "client" ? "CLI" : "connector"} to the gateway's release (${gatewayRelease})`;
  return `protocol version mismatch: ${who}${release} speaks ${theirs}; the gateway (release ${gatewayRelease}) speaks gatehouse.v${TUNNEL_PROTOCOL_VERSION} — ${fix}`;
}
