/**
 * Streaming subresources over WebSocket: pods/exec and pods/attach with the channel protocols
 * `v5.channel.k8s.io` (current kubectl's default: adds the close channel 255) and
 * `v4.channel.k8s.io`; pods/portforward (portforward.ts). The "container" of a test pod is the
 * host: exec runs the requested argv as a child process (under `script` for a TTY), so what
 * kubectl shows is real program output and real exit codes.
 */
import type { Server } from "node:https";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { spawn, type ChildProcess } from "node:child_process";
import { WebSocketServer, type WebSocket } from "ws";
import type { KubeObject, ObjectStore } from "./store.ts";
import { ApiError } from "./store.ts";
import { goQuery, rawQueryOf, resolveTarget, status, type SeenRequest, type User } from "./server.ts";
import { servePortForward, PORTFORWARD_PROTOCOLS, type PortForwardRecord, type PortTargets } from "./portforward.ts";

export const CHANNEL_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
const STDIN = 0, STDOUT = 1, STDERR = 2, ERROR = 3, RESIZE = 4, CLOSE = 255;

/** What the server saw of one exec/attach session: tests assert on resize and stdin close. */
export interface ExecRecord {
  pod: string;
  command: string[];
  protocol: string;
  tty: boolean;
  resizes: Array<{ Width: number; Height: number }>;
  stdinClosed: boolean;
  exitCode: number | null;
  /** Every stdout/stderr message sent, in order (tests check where the output was cut). */
  output: Array<{ channel: number; data: string }>;
}

export interface StreamContext {
  store: ObjectStore;
  tokens: Map<string, User>;
  requests: SeenRequest[];
  authenticate(req: IncomingMessage): User | null;
  execs: ExecRecord[];
  portTargets: PortTargets;
  portForwards: PortForwardRecord[];
}

/** npm ws refuses subprotocol names that are not HTTP tokens ('/' in SPDY/3.1+portforward.k8s.io): it sees this alias. */
const TOKEN_ALIAS = new Map(PORTFORWARD_PROTOCOLS.map((p) => [p.replace(/\//g, "_"), p]));

function reject(socket: Duplex, code: number, body: object): void {
  const text = JSON.stringify(body);
  socket.end(`HTTP/1.1 ${code} ${code === 401 ? "Unauthorized" : code === 404 ? "Not Found" : "Bad Request"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function attachStreams(server: Server, ctx: StreamContext): void {
  const execs = ctx.execs;
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => {
      const chosen = [...CHANNEL_PROTOCOLS, ...TOKEN_ALIAS.keys()].find((p) => protocols.has(p));
      return chosen === undefined ? false : (TOKEN_ALIAS.get(chosen) ?? chosen);
    },
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const user = ctx.authenticate(req);
    ctx.requests.push({ method: req.method ?? "", url: req.url ?? "", user: user?.name ?? null, headers: req.headers });
    if (!user) return reject(socket, 401, status(401, "Unauthorized", "Unauthorized"));
    const url = new URL(req.url ?? "/", "https://kube");
    const target = resolveTarget(url.pathname);
    // A watch over WebSocket (the API server's watch handler serves one to any GET with
    // watch=true that asks to upgrade: each event one text message; browsers and some clients use it).
    const watchFlag = goQuery(rawQueryOf(req.url)).get("watch");
    if (target && !target.subresource && req.method === "GET" && (watchFlag === "true" || watchFlag === "1")) {
      const rt = target.rt;
      return wss.handleUpgrade(req, socket, head, (ws) => {
        const sendEvent = (type: string, object: unknown) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type, object }), { binary: false });
        };
        const named = (o: KubeObject) => !target.name || o.metadata?.name === target.name;
        for (const o of ctx.store.list(rt, target.namespace).filter(named)) sendEvent("ADDED", o);
        const stop = ctx.store.watch(rt, target.namespace, ctx.store.resourceVersion, (e) => {
          if (named(e.object)) sendEvent(e.type, e.object);
        });
        ws.on("close", stop);
      });
    }
    if (!target || !target.name || !["exec", "attach", "portforward"].includes(target.subresource ?? "")) return reject(socket, 404, status(404, "NotFound", "the server could not find the requested resource"));
    let pod;
    try {
      pod = ctx.store.get(target.rt, target.namespace, target.name);
    } catch (err) {
      const e = err as ApiError;
      return reject(socket, e.code, status(e.code, e.reason, e.message, e.details));
    }
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
      // SPDY (kubectl before 1.29/1.30, or the fallback): not served by this test server.
      return reject(socket, 400, status(400, "BadRequest", "Upgrade request required: this test API server speaks WebSocket only"));
    }
    const offered = String(req.headers["sec-websocket-protocol"] ?? "");
    req.headers["sec-websocket-protocol"] = offered.split(",").map((p) => p.trim().replace(/\//g, "_")).join(", ");
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (target.subresource === "portforward") {
        if (ws.protocol !== PORTFORWARD_PROTOCOLS[0]) return ws.close(1002, "portforward needs SPDY/3.1+portforward.k8s.io");
        return servePortForward(ws, `${target.namespace}/${target.name}`, ctx.portTargets, ctx.portForwards);
      }
      if (!CHANNEL_PROTOCOLS.includes(ws.protocol)) return ws.close(1002, "exec/attach need v5.channel.k8s.io or v4.channel.k8s.io");
      const q = goQuery(rawQueryOf(req.url));
      const command = target.subresource === "exec" ? q.getAll("command") : ["sh"];
      const tty = q.get("tty") === "true";
      const record: ExecRecord = { pod: `${target.namespace}/${target.name}`, command, protocol: ws.protocol, tty, resizes: [], stdinClosed: false, exitCode: null, output: [] };
      execs.push(record);
      runExec(ws, record, q.get("stdin") === "true", pod.metadata.name);
    });
  });
}

function runExec(ws: WebSocket, record: ExecRecord, stdin: boolean, podName: string): void {
  const send = (channel: number, data: Buffer | string) => {
    if (ws.readyState !== ws.OPEN) return;
    const body = typeof data === "string" ? Buffer.from(data) : data;
    if (channel === STDOUT || channel === STDERR) record.output.push({ channel, data: body.toString("utf8") });
    ws.send(Buffer.concat([Buffer.from([channel]), body]));
  };
  if (record.command.length === 0) {
    send(ERROR, JSON.stringify(status(400, "BadRequest", "you must specify at least 1 command")));
    return ws.close(1000);
  }
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOSTNAME: podName, HOME: "/tmp", TERM: record.tty ? "xterm" : "dumb" };
  let child: ChildProcess;
  if (record.tty) child = spawn("script", ["-qfec", record.command.map(shellQuote).join(" "), "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
  else child = spawn(record.command[0]!, record.command.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
  let spawnError: Error | null = null;
  child.on("error", (err) => (spawnError = err));
  child.stdout!.on("data", (d: Buffer) => send(STDOUT, d));
  child.stderr!.on("data", (d: Buffer) => send(record.tty ? STDOUT : STDERR, d));
  if (!stdin) child.stdin!.end();
  child.stdin!.on("error", () => {});
  ws.on("message", (data: Buffer) => {
    if (data.length === 0) return;
    const channel = data[0]!;
    const body = data.subarray(1);
    if (channel === STDIN && stdin) child.stdin!.write(body);
    else if (channel === RESIZE) {
      try {
        record.resizes.push(JSON.parse(body.toString("utf8")));
      } catch {
        /* a malformed resize is ignored, as the kubelet does */
      }
    } else if (channel === CLOSE && ws.protocol === "v5.channel.k8s.io" && body[0] === STDIN) {
      record.stdinClosed = true;
      child.stdin!.end();
    }
  });
  ws.on("close", () => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  child.on("close", (code, signal) => {
    const exit = spawnError ? 126 : (code ?? (signal ? 128 + 9 : 1));
    record.exitCode = exit;
    if (spawnError) {
      send(ERROR, JSON.stringify(status(500, "InternalError", `failed to exec in container: exec: ${JSON.stringify(record.command[0])}: executable file not found in $PATH: unknown`)));
    } else if (exit === 0) send(ERROR, JSON.stringify({ metadata: {}, status: "Success" }));
    else {
      send(ERROR, JSON.stringify({ metadata: {}, status: "Failure", message: `command terminated with non-zero exit code: error executing command [${record.command.join(" ")}], exit code ${exit}`, reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: String(exit) }] } }));
    }
    ws.close(1000);
  });
}
