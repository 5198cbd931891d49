/**
 * The kubernetes listener with the real kubectl (v1.35): HTTPS with a per-listener CA, client
 * certificate authentication from the kubeconfig it writes, HTTP/1.1 through the tunnel. The
 * gateway side is the test peer (client/testing/gateway-peer.ts) answering as the gateway would
 * answer a denied request: a Kubernetes Status.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startGatewayPeer, type PeerTunnel } from "../../../test/support/gateway-peer.ts";
import { startConnectListener } from "../../../client/listener.ts";
import { staticTokenSource } from "../../../client/auth/token-source.ts";
import { mintDevToken } from "../../../client/dev/issuer.ts";
import { kubectlPath } from "../../../test/kubernetes/kubectl-binaries.ts";
import { kubectl } from "../../../test/kubernetes/kubectl-run.ts";
import { forbiddenStatus } from "../codec/status.ts";
import { parseKubeRequest } from "../codec/request.ts";
import { statusHttpResponse } from "./listener-engine.ts";
import { kubeconfigCommand } from "../../../client/commands/kubeconfig.ts";
import { discoveryDocument } from "../../../test/kube-apiserver/resources.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});
beforeAll(() => {
  kubectlPath();
}, 180_000);

/**
 * The peer answers discovery (as the gateway lets discovery through: kubectl shows a denied
 * discovery request as "unknown") and every resource request as a gateway denial, recording the
 * request heads.
 */
function denyEverything(heads: string[]) {
  return (t: PeerTunnel) => {
    void (async () => {
      try {
        await t.until(() => Buffer.concat(t.data).includes("\r\n\r\n"));
      } catch {
        return;
      }
      const head = Buffer.concat(t.data).toString("latin1").split("\r\n\r\n")[0]!;
      heads.push(head);
      const [method, target] = head.split(" ");
      const doc = discoveryDocument(target!.split("?")[0]!);
      if (doc) {
        const body = JSON.stringify(doc);
        t.sendData(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`));
      } else t.sendData(statusHttpResponse(forbiddenStatus(parseKubeRequest(method!, target!), "gatehouse rule 'read-only' denies it")));
      t.close("ok", "done");
    })();
  };
}

async function setup(onTunnel: (t: PeerTunnel) => void) {
  const peer = await startGatewayPeer({ resources: { "prod-k8s": { type: "kubernetes", online: true } }, onTunnel });
  cleanups.push(() => peer.close());
  const dir = await mkdtemp(path.join(tmpdir(), "gh-k8s-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const token = await mintDevToken({ sub: "alice", keyFile: path.join(dir, "key.json"), issuer: "http://127.0.0.1:1" });
  const listener = await startConnectListener({ stateDir: path.join(dir, "state"), gateway: peer.url, resource: "prod-k8s", port: 0, tokenSource: staticTokenSource(token, "test"), log: () => {} });
  cleanups.push(() => listener.close());
  return { peer, listener, home: dir };
}

describe("gatehouse connect <kubernetes resource>", () => {
  it("writes a 0600 kubeconfig; kubectl reaches the gateway over HTTPS with the listener's client certificate and prints the gateway's Status", async () => {
    const heads: string[] = [];
    const { listener, peer, home } = await setup(denyEverything(heads));
    expect(listener.type).toBe("kubernetes");
    const file = listener.auth.files.kubeconfig!;
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(listener.usage.join("\n")).toContain(`export KUBECONFIG=${file}`);
    expect(await readFile(file, "utf8")).toContain(`server: https://127.0.0.1:${listener.port}`);

    const r = await kubectl({ bin: kubectlPath(), home, kubeconfig: file }, ["get", "pods", "-n", "apps"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error from server (Forbidden): pods is forbidden: gatehouse rule 'read-only' denies it (gatehouse: list in the namespace "apps")\n`);
    expect(peer.tunnels.length).toBeGreaterThan(0);
    // What went through the tunnel is kubectl's plain HTTP/1.1, with no credential of its own.
    expect(heads[0]).toMatch(/^GET \/api(\?|s| )/);
    for (const h of heads) {
      expect(h).toMatch(/ HTTP\/1\.1\r\n/);
      expect(h.toLowerCase()).not.toContain("\r\nauthorization:");
    }
  });

  it("gatehouse kubeconfig <cluster> prints the running listener's KUBECONFIG line; none running is an error naming the fix", async () => {
    const { listener, home } = await setup(denyEverything([]));
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: () => {}, env: { GATEHOUSE_STATE_DIR: path.join(home, "state") } };
    expect(await kubeconfigCommand(["prod-k8s"], io)).toBe(0);
    expect(out.join("")).toBe(`export KUBECONFIG=${listener.auth.files.kubeconfig}\n`);
    expect(await kubeconfigCommand(["prod-k8s", "--path", "--port", String(listener.port)], io)).toBe(0);
    expect(out.at(-1)).toBe(`${listener.auth.files.kubeconfig}\n`);
    await expect(kubeconfigCommand(["other-k8s"], io)).rejects.toThrow(/no running listener for other-k8s; start one with: gatehouse connect other-k8s/);
    await listener.close();
    await expect(kubeconfigCommand(["prod-k8s"], io)).rejects.toThrow(/no running listener/);
  });

  it("a kubeconfig without the listener's client certificate gets no further than TLS: nothing reaches the gateway", async () => {
    const { listener, peer, home } = await setup(denyEverything([]));
    const original = await readFile(listener.auth.files.kubeconfig!, "utf8");
    const stolen = original.replace(/ {4}client-certificate-data: .*\n {4}client-key-data: .*\n/, "    token: guessed-token\n");
    expect(stolen).not.toContain("client-key-data");
    const file = path.join(home, "stolen-kubeconfig");
    await writeFile(file, stolen, { mode: 0o600 });
    const r = await kubectl({ bin: kubectlPath(), home, kubeconfig: file }, ["get", "pods"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/certificate required|bad certificate|tls/i);
    expect(peer.tunnels.length).toBe(0);
  });

  it("a kubeconfig from another listener (another CA) is refused by TLS too", async () => {
    const a = await setup(denyEverything([]));
    const b = await setup(denyEverything([]));
    const mixed = (await readFile(b.listener.auth.files.kubeconfig!, "utf8")).replace(`:${b.listener.port}`, `:${a.listener.port}`);
    const file = path.join(b.home, "mixed-kubeconfig");
    await writeFile(file, mixed, { mode: 0o600 });
    const r = await kubectl({ bin: kubectlPath(), home: b.home, kubeconfig: file }, ["get", "pods"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x509|certificate/i);
    expect(a.peer.tunnels.length).toBe(0);
  });
});
