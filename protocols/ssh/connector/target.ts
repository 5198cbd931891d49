/**
 * The connector's SSH connection to a host (ssh2 client): pinned host key, credentials resolved
 * from their references at dial time, and failures mapped to typed, credential-free errors the
 * worker shows the user (host down, authentication failure, host key mismatch).
 */
import { createHash } from "node:crypto";
import ssh2 from "ssh2";
import type { BaseAgent, Client as SshClient, ConnectConfig } from "ssh2";
import { TargetError } from "../../../connector/errors.ts";
import { resolveSecret } from "../../../connector/secrets.ts";
import type { PinnedHostKey, SshResourceConfig } from "./config.ts";

export const SSH_ERROR = {
  unreachable: "ssh-unreachable",
  auth: "ssh-auth-failed",
  hostKey: "ssh-host-key-mismatch",
  timeout: "ssh-timeout",
  lost: "ssh-lost",
  protocol: "ssh-protocol",
} as const;

export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export function hostKeyMatches(pinned: PinnedHostKey, blob: Buffer): boolean {
  if (pinned.kind === "key") return pinned.blob.equals(blob);
  return fingerprint(blob) === `SHA256:${pinned.sha256}`;
}

function pinnedDescription(pinned: PinnedHostKey): string {
  return pinned.kind === "key" ? `${pinned.algorithm} ${fingerprint(pinned.blob)}` : `SHA256:${pinned.sha256}`;
}

export interface SshTarget {
  client: SshClient;
  /** Fingerprint of the host key the host presented (and that matched the pin). */
  hostKey: string;
}

export async function dialSsh(resource: SshResourceConfig, opts: { readyTimeoutMs: number; signal?: AbortSignal; forwardedAgent?: BaseAgent }): Promise<SshTarget> {
  const where = `${resource.host}:${resource.port}`;
  const config: ConnectConfig = {
    host: resource.host,
    port: resource.port,
    username: resource.username,
    readyTimeout: opts.readyTimeoutMs,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    // No keyboard-interactive prompts and an explicit method list: only the configured credential
    // is ever offered — never the client's forwarded agent below, which exists only so that an
    // allowed `ssh -A` can reach the pipeline's agent from the host.
    tryKeyboard: false,
    authHandler: [resource.privateKey ? "publickey" : "password"],
    ...(opts.forwardedAgent ? { agent: opts.forwardedAgent } : {}),
  };
  let presented: Buffer | undefined;
  config.hostVerifier = (key: Buffer) => {
    presented = Buffer.from(key);
    return hostKeyMatches(resource.hostKey, presented);
  };
  const secrets: string[] = [];
  if (resource.privateKey) {
    const key = (await resolveSecret(resource.privateKey))!;
    config.privateKey = key;
    secrets.push(key);
    if (resource.passphrase) {
      const passphrase = (await resolveSecret(resource.passphrase))!;
      config.passphrase = passphrase;
      secrets.push(passphrase);
    }
  } else if (resource.password) {
    const password = (await resolveSecret(resource.password))!;
    config.password = password;
    secrets.push(password);
  }
  const scrub = (text: string) => secrets.reduce((t, s) => (s.length >= 3 ? t.split(s).join("***") : t), text);

  const client = new ssh2.Client();
  return await new Promise<SshTarget>((resolve, reject) => {
    let settled = false;
    const fail = (err: TargetError) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener("abort", onAbort);
      client.removeAllListeners();
      client.on("error", () => {});
      client.end();
      reject(err);
    };
    const onAbort = () => fail(new TargetError(SSH_ERROR.lost, `gatehouse: resource ${resource.name}: connection attempt cancelled`));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    client.once("ready", () => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener("abort", onAbort);
      client.removeAllListeners("error");
      resolve({ client, hostKey: presented ? fingerprint(presented) : "unknown" });
    });
    client.on("error", (err: Error & { level?: string; code?: string }) => {
      if (presented && !hostKeyMatches(resource.hostKey, presented)) {
        return fail(
          new TargetError(
            SSH_ERROR.hostKey,
            `gatehouse: resource ${resource.name}: host key mismatch for ${where}: the host presented ${fingerprint(presented)}, the connector's configuration pins ${pinnedDescription(resource.hostKey)} — refusing to connect (possible man-in-the-middle, or the host was rebuilt: update host_key)`,
          ),
        );
      }
      if (err.level === "client-authentication") {
        return fail(new TargetError(SSH_ERROR.auth, `gatehouse: resource ${resource.name}: authentication as ${resource.username} failed at ${where} (the host refused the connector's ${resource.privateKey ? "key" : "password"})`));
      }
      if (err.level === "client-timeout" || /timed out/i.test(err.message)) {
        return fail(new TargetError(SSH_ERROR.timeout, `gatehouse: resource ${resource.name}: timed out connecting to ${where}`));
      }
      if (err.level === "client-socket" || err.code) {
        return fail(new TargetError(SSH_ERROR.unreachable, `gatehouse: resource ${resource.name}: cannot reach ${where} (${err.code ?? scrub(err.message)})`));
      }
      fail(new TargetError(SSH_ERROR.protocol, `gatehouse: resource ${resource.name}: SSH connection to ${where} failed: ${scrub(err.message)}`));
    });
    client.once("close", () => fail(new TargetError(SSH_ERROR.unreachable, `gatehouse: resource ${resource.name}: ${where} closed the connection during the SSH handshake`)));
    try {
      client.connect(config);
    } catch (err) {
      fail(new TargetError(SSH_ERROR.protocol, `gatehouse: resource ${resource.name}: ${scrub((err as Error).message)}`));
    }
  });
}
