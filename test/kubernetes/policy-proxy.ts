/**
 * TEST HARNESS — a Node HTTPS proxy that runs the Kubernetes module's runtime-neutral pieces
 * (planKubeRequest → decideKubeRequest → KubeResponseMasker; ChannelReader on exec) between the
 * real kubectl and the test API server, so kubectl itself shows what they produce (denials,
 * masked Secrets in every output format, refused impersonation, recorded exec streams) before
 * the worker engine exists. It is not the gateway: no tunnel, no approvals workflow, no trail.
 */
import { createServer, request as httpsRequest, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import WebSocket, { WebSocketServer } from "ws";
import { makeClusterCerts, type ClusterCerts } from "../kube-apiserver/certs.ts";
import { planKubeRequest, KubeResponseMasker, KubeResponseError, type ForwardPlan } from "../../protocols/kubernetes/exchange.ts";
import { decideKubeRequest, type KubeRuleView } from "../../protocols/kubernetes/policy/rules.ts";
import { execCommands } from "../../protocols/kubernetes/codec/exec-command.ts";
import { forbiddenStatus, kubeStatus, warningHeader, type KubeStatus } from "../../protocols/kubernetes/codec/status.ts";
import { ChannelReader, restrictOffer, type ChannelEvent, type ChannelProtocol } from "../../protocols/kubernetes/codec/channel.ts";
import type { ImpersonationSpec } from "../../protocols/kubernetes/policy/impersonation.ts";
import type { Identity } from "../../parsers/identity.ts";
import type { Decision } from "../../parsers/policy/types.ts";

export interface ProxyOptions {
  upstream: { url: string; caPem: string; token: string };
  rules: KubeRuleView[];
  /** The token kubectl must present to the proxy (stands in for the listener's authentication). */
  clientToken: string;
  identity: Identity;
  impersonation?: ImpersonationSpec;
  /** approve decisions: resolves true to forward the held request. */
  onHold?: (decision: Decision, plan: ForwardPlan) => Promise<boolean>;
}

export interface PolicyProxy {
  url: string;
  certs: ClusterCerts;
  decisions: Array<{ what: string; decision: Decision }>;
  execs: Array<{ protocol: string; events: ChannelEvent[]; exitCode: number | null }>;
  close(): Promise<void>;
}

function sendStatus(res: ServerResponse, s: KubeStatus): void {
  const body = JSON.stringify(s);
  res.writeHead(s.code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function headerList(req: IncomingMessage): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) out.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  return out;
}

const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol", "sec-websocket-extensions"]);

export async function startPolicyProxy(opts: ProxyOptions): Promise<PolicyProxy> {
  const certs = await makeClusterCerts();
  const decisions: PolicyProxy["decisions"] = [];
  const execs: PolicyProxy["execs"] = [];
  const up = new URL(opts.upstream.url);
  const resource = { name: "test-cluster", type: "kubernetes", labels: {} };

  /** Plan + decide (+ hold); a Status when refused. */
  async function admit(req: IncomingMessage): Promise<{ plan: ForwardPlan; warning?: string } | { status: KubeStatus }> {
    if (req.headers.authorization !== `Bearer ${opts.clientToken}`) return { status: kubeStatus(401, "Unauthorized", "Unauthorized") };
    const plan = planKubeRequest(req.method ?? "", req.url ?? "", headerList(req), { identity: opts.identity, impersonation: opts.impersonation ?? null });
    if (plan.kind === "refuse") return { status: plan.status };
    const r = plan.request;
    if (r.kind === "nonresource" && (r.category === "discovery" || r.category === "openapi" || r.category === "version")) return { plan };
    const commands = r.kind === "resource" && r.verb === "exec" ? execCommands(r.command) : undefined;
    const decision = decideKubeRequest({ identity: opts.identity, resource, request: r, commands }, opts.rules, (x) => `rule '${x.name}'`, opts.identity.subject);
    decisions.push({ what: `${req.method} ${req.url}`, decision });
    if (decision.effect === "deny") return { status: forbiddenStatus(r, decision.reason) };
    if (decision.effect === "approve") {
      if (!(await (opts.onHold?.(decision, plan) ?? Promise.resolve(false)))) return { status: forbiddenStatus(r, `${decision.reason}: not approved`) };
      return { plan, warning: warningHeader(`gatehouse: held for approval by rule '${decision.rule}', approved`) };
    }
    return { plan };
  }

  const server: Server = createServer({ cert: certs.serverCertPem, key: certs.serverKeyPem });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const a = await admit(req);
      if ("status" in a) {
        req.resume();
        return sendStatus(res, a.status);
      }
      const headers: Record<string, string[]> = {};
      // The body goes up as it came (Content-Length kept: Node sends a DELETE body unframed otherwise).
      for (const [k, v] of a.plan.headers) if (!HOP.has(k.toLowerCase()) || k.toLowerCase() === "content-length") (headers[k] ??= []).push(v);
      const upstream = httpsRequest({ host: up.hostname, port: up.port, method: req.method, path: req.url, ca: opts.upstream.caPem, headers: { ...headers, authorization: `Bearer ${opts.upstream.token}` } }, (ur) => {
        let masker: KubeResponseMasker;
        try {
          masker = new KubeResponseMasker(a.plan, ur.headers["content-type"] ?? null, ur.statusCode ?? 500);
        } catch (err) {
          ur.resume();
          return sendStatus(res, (err as KubeResponseError).status);
        }
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(ur.headers)) if (typeof v === "string" && !HOP.has(k)) h[k] = v;
        if (a.warning) h.warning = a.warning;
        let started = false;
        const start = () => {
          if (!started) res.writeHead(ur.statusCode ?? 502, h);
          started = true;
        };
        ur.on("data", (c: Buffer) => {
          try {
            const out = masker.push(c);
            start();
            if (out.length) res.write(out);
          } catch (err) {
            if (!started && err instanceof KubeResponseError) sendStatus(res, err.status);
            else res.destroy();
            ur.destroy();
          }
        });
        ur.on("end", () => {
          try {
            const out = masker.end();
            start();
            res.end(out);
          } catch (err) {
            if (!started && err instanceof KubeResponseError) sendStatus(res, err.status);
            else res.destroy();
          }
        });
      });
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    })();
  });

  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => restrictOffer([...p].join(","))[0] ?? false });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      const a = await admit(req);
      const refuse = (s: KubeStatus) => {
        const body = JSON.stringify(s);
        socket.end(`HTTP/1.1 ${s.code} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      };
      if ("status" in a) return refuse(a.status);
      if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") return refuse(kubeStatus(400, "BadRequest", "gatehouse: SPDY is not supported; use kubectl 1.30 or later (WebSocket exec, attach and port-forward)"));
      const offer = restrictOffer(String(req.headers["sec-websocket-protocol"] ?? ""));
      if (offer.length === 0) return refuse(kubeStatus(400, "BadRequest", "gatehouse: exec/attach need v5.channel.k8s.io or v4.channel.k8s.io"));
      const upstream = new WebSocket(`wss://${up.host}${req.url}`, offer, { ca: opts.upstream.caPem, headers: { authorization: `Bearer ${opts.upstream.token}` } });
      upstream.once("error", () => refuse(kubeStatus(502, "InternalError", "gatehouse: the API server refused the stream")));
      upstream.once("open", () => {
        wss.handleUpgrade(req, socket, head, (client) => {
          const reader = new ChannelReader(upstream.protocol as ChannelProtocol);
          const record = { protocol: upstream.protocol, events: reader.events, exitCode: null as number | null };
          execs.push(record);
          client.on("message", (m: Buffer) => {
            reader.fromClient(m);
            upstream.send(m);
          });
          upstream.on("message", (m: Buffer) => {
            reader.fromServer(m);
            record.exitCode = reader.exitCode;
            client.send(m);
          });
          upstream.on("close", (code) => client.close(code === 1005 ? 1000 : code));
          client.on("close", () => upstream.close());
        });
      });
    })();
  });

  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    certs,
    decisions,
    execs,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
