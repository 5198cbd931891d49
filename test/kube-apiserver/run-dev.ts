// Manual runner: starts the test API server and writes a kubeconfig (development only).
import { writeFileSync } from "node:fs";
import { startKubeApiServer } from "./server.ts";
const s = await startKubeApiServer({ tokens: { "tok-admin": { name: "admin", groups: ["system:masters"] } } });
const ns = s.store;
const nsType = (await import("./resources.ts")).findType("", "v1", "namespaces")!;
ns.create(nsType, "", { metadata: { name: "default" } });
const kc = `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${s.url}
    certificate-authority-data: ${Buffer.from(s.certs.caPem).toString("base64")}
users:
- name: admin
  user:
    token: tok-admin
contexts:
- name: test
  context: { cluster: test, user: admin, namespace: default }
current-context: test
`;
writeFileSync(process.argv[2] ?? "/tmp/kpk/kubeconfig", kc);
setInterval(() => {
  const last = s.requests.splice(0);
  for (const r of last) console.log(r.method, r.url, r.headers.accept ?? "", r.headers["content-type"] ?? "");
}, 200);
const { createServer } = await import("node:net");
const echo = createServer((c) => c.on("data", (d) => c.write(`echo:${d}`))).listen(0, "127.0.0.1", () => {
  s.portTargets.set("default/shell:80", (echo.address() as { port: number }).port);
});
