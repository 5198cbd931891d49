/**
 * Dials one tunnel WebSocket (`/v1/tunnel/:resource`, subprotocol gatehouse.v1) and resolves once
 * it is open. Failures become typed errors: HTTP answers (401 with a JSON reason…) become
 * GatewayHttpError, everything else GatewayUnreachableError.
 * The returned socket is paused: call `ws.resume()` once message handlers are attached.
 */
import WebSocket from "ws";
import type { IncomingMessage } from "node:http";
import { MAX_FRAME_BYTES, TUNNEL_SUBPROTOCOL } from "../../parsers/tunnel/frames.ts";
import { GatewayUnreachableError, CliError, describeError } from "../errors.ts";
import { errorFromBody } from "../gateway/api.ts";

export interface OpenTunnelOptions {
  url: URL;
  token: string;
  /** How long the TCP + HTTP upgrade may take. */
  handshakeTimeoutMs?: number;
  /** User-Agent-ish version string sent as a header, for the audit trail. */
  clientVersion?: string;
}

const MAX_ERROR_BODY_BYTES = 4096;

export function openTunnel(opts: OpenTunnelOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(opts.url, [TUNNEL_SUBPROTOCOL], {
      headers: {
        authorization: `Bearer ${opts.token}`,
        "user-agent": `gatehouse-cli/${opts.clientVersion ?? "0"}`,
      },
      handshakeTimeout: opts.handshakeTimeoutMs ?? 15_000,
      // One frame never exceeds MAX_FRAME_BYTES (protocol limit); ws enforces it for us.
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      followRedirects: false,
      // All-zero masking key: ws then skips XOR-masking every payload byte. Masking protects
      // browser-sourced frames against cache-poisoning intermediaries; this client is no browser.
      generateMask: zeroMask,
    });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
      reject(err);
    };
    ws.on("unexpected-response", (_req, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let total = 0;
      res.on("data", (chunk: Buffer) => {
        if (total < MAX_ERROR_BODY_BYTES) chunks.push(chunk.subarray(0, MAX_ERROR_BODY_BYTES - total));
        total += chunk.length;
        if (total >= MAX_ERROR_BODY_BYTES) res.destroy();
      });
      const done = () => fail(errorFromBody(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8")));
      res.on("end", done);
      res.on("close", done);
      res.on("error", done);
    });
    ws.on("error", (err) => fail(new GatewayUnreachableError(opts.url.origin.replace(/^ws/, "http"), describeError(err))));
    ws.on("open", () => {
      if (settled) return;
      if (ws.protocol !== TUNNEL_SUBPROTOCOL) {
        fail(new CliError(`gateway did not accept the ${TUNNEL_SUBPROTOCOL} tunnel protocol`));
        return;
      }
      settled = true;
      ws.removeAllListeners();
      // Hold incoming frames (the session announcement may follow the upgrade at once) until
      // the caller attaches its handlers; bridge() resumes.
      ws.pause();
      resolve(ws);
    });
  });
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}
