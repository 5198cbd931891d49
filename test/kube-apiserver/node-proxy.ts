/**
 * `nodes/<name>/proxy/…` as the API server serves it: the rest of the path goes to that node's
 * kubelet. The test "kubelet" answers its read endpoints (`/healthz`, `/stats/summary`) and its
 * `run` endpoint as the real one does — `POST /run/<ns>/<pod>/<container>?cmd=…` runs the command
 * (here on the host, as this server's exec does) and answers its output as text — and records every
 * request, so a test sees what reached the kubelet.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { execFile } from "node:child_process";

export interface NodeProxyRecord {
  method: string;
  node: string;
  /** The kubelet path (after `…/proxy`), with its query. */
  path: string;
  /** `run`: the command the kubelet ran (argv). */
  ran: string[] | null;
}

const NODE_PROXY = /^\/api\/v1\/nodes\/([^/]+)\/proxy(\/.*)?$/;

/** Serves the request when it is a node proxy request (true), else leaves it (false). */
export async function serveNodeProxy(req: IncomingMessage, res: ServerResponse, url: URL, records: NodeProxyRecord[]): Promise<boolean> {
  const m = NODE_PROXY.exec(url.pathname);
  if (!m) return false;
  for await (const _ of req);
  const path = m[2] ?? "/";
  const record: NodeProxyRecord = { method: req.method ?? "", node: m[1]!.replace(/:\d+$/, ""), path: `${path}${url.search}`, ran: null };
  records.push(record);
  const text = (code: number, body: string) => {
    res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  if (req.method === "POST" && /^\/run\/[^/]+\/[^/]+\/[^/]+$/.test(path)) {
    // The kubelet splits `cmd` on blanks (strings.Fields) and runs it in the container.
    const argv = (url.searchParams.get("cmd") ?? "").split(/\s+/).filter(Boolean);
    record.ran = argv;
    if (argv.length === 0) text(400, "missing cmd");
    else text(200, await new Promise<string>((resolve) => execFile(argv[0]!, argv.slice(1), { timeout: 10_000 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`))));
    return true;
  }
  if (req.method === "GET" && path === "/healthz") {
    text(200, "ok");
    return true;
  }
  if (req.method === "GET" && path === "/stats/summary") {
    const body = JSON.stringify({ node: { nodeName: record.node, cpu: { usageNanoCores: 1 } }, pods: [] });
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
    return true;
  }
  text(404, "404 page not found\n");
  return true;
}
