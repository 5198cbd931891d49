/**
 * Certificates for the test API server, made with the `openssl` CLI (independent of Gatehouse's
 * own X.509 code): a cluster CA, a serving certificate for 127.0.0.1/localhost, and a client
 * certificate whose subject is the user (CN) and groups (O), as a real API server reads them.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface ClusterCerts {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
}

export async function makeClusterCerts(clientUser = "cert-user", clientGroups: string[] = ["system:masters"]): Promise<ClusterCerts> {
  const dir = await mkdtemp(join(tmpdir(), "kube-certs-"));
  const f = (n: string) => join(dir, n);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    await run("openssl", ["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=gatehouse-test-cluster-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", f("ca.key"), "-out", f("ca.crt")]);
    await run("openssl", ["req", ...ec, "-subj", "/CN=kube-apiserver", "-keyout", f("server.key"), "-out", f("server.csr")]);
    await writeFile(f("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    await run("openssl", ["x509", "-req", "-in", f("server.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f("server.ext"), "-out", f("server.crt")]);
    const subj = `/CN=${clientUser}${clientGroups.map((g) => `/O=${g}`).join("")}`;
    await run("openssl", ["req", ...ec, "-subj", subj, "-keyout", f("client.key"), "-out", f("client.csr")]);
    await writeFile(f("client.ext"), "extendedKeyUsage=clientAuth\n");
    await run("openssl", ["x509", "-req", "-in", f("client.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f("client.ext"), "-out", f("client.crt")]);
    const read = (n: string) => readFile(f(n), "utf8");
    return {
      caPem: await read("ca.crt"),
      serverCertPem: await read("server.crt"),
      serverKeyPem: await read("server.key"),
      clientCertPem: await read("client.crt"),
      clientKeyPem: await read("client.key"),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
