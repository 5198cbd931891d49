/**
 * A throw-away certificate authority for TLS tests (openssl): a CA and leaf certificates for
 * 127.0.0.1/localhost signed by it, so clients can be configured to trust exactly this CA.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TestCa {
  /** CA certificate (PEM) and where it is on disk (for NODE_EXTRA_CA_CERTS). */
  cert: string;
  certFile: string;
  /**
   * A leaf certificate signed by this CA: a server's for 127.0.0.1 and localhost (and `dnsNames`,
   * e.g. `*.gatehouse.test` for tenants' host names), or a client's (CN = name).
   */
  issue(name: string, purpose?: "server" | "client", dnsNames?: string[]): { key: string; cert: string };
  dispose(): void;
}

export function createTestCa(commonName = "Gatehouse test CA"): TestCa {
  const dir = mkdtempSync(path.join(tmpdir(), "gh-ca-"));
  const ssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", `/CN=${commonName}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  return {
    cert: readFileSync(path.join(dir, "ca.pem"), "utf8"),
    certFile: path.join(dir, "ca.pem"),
    issue(name: string, purpose: "server" | "client" = "server", dnsNames: string[] = []) {
      ssl(["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
      const ext = purpose === "server" ? `subjectAltName=IP:127.0.0.1,DNS:localhost${dnsNames.map((d) => `,DNS:${d}`).join("")}\nextendedKeyUsage=serverAuth\n` : "extendedKeyUsage=clientAuth\n";
      writeFileSync(path.join(dir, `${name}.ext`), `${ext}basicConstraints=CA:FALSE\n`);
      ssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`]);
      return { key: readFileSync(path.join(dir, `${name}.key`), "utf8"), cert: readFileSync(path.join(dir, `${name}.pem`), "utf8") };
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
