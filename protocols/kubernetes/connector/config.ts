/**
 * The `type: kubernetes` resource: one cluster's API server, how to trust it, and the credential
 * only the connector holds (by reference). kubectl's requests, decided by the worker, go to it
 * over the HTTP connector stream (protocols/http/connector/http-stream.ts).
 *
 *   - name: prod-k8s
 *     type: kubernetes
 *     url: https://10.0.0.1:6443                 # the API server
 *     ca: file:/etc/gatehouse/k8s-ca.pem          # the cluster CA (PEM)
 *     credential:                                  # exactly one of:
 *       bearer: file:/var/run/secrets/gatehouse/token   #   a service-account token
 *       # client_cert: file:/etc/gatehouse/k8s.crt      #   or a client certificate and its key
 *       # client_key: file:/etc/gatehouse/k8s.key
 *     impersonate:                                 # optional: the API server authorises as this user
 *       user: "ci:{sub}"                           #   templates: {sub}, {iss} (what the connector knows)
 *       groups: ["gatehouse:pipelines"]
 *
 * With `impersonate`, the credential needs RBAC `impersonate` on those users/groups and the
 * cluster's own RBAC is the second wall per pipeline identity. Client-sent `Impersonate-*`
 * headers never reach the API server (the worker refuses them; this stream drops them again).
 */
import { ConfigError } from "../../../connector/errors.ts";
import { expectLabels, expectObject, expectOnlyKeys } from "../../../connector/config-fields.ts";
import { parseCaBundle, parseSecretRef, type SecretRefContext } from "../../../connector/secrets.ts";
import { parseUpstreamUrl, type HttpUpstreamConfig } from "../../http/connector/config.ts";
import { PolicySyntaxError } from "../../../parsers/policy/errors.ts";
import { compileImpersonation, type ImpersonationSpec } from "../policy/impersonation.ts";

export interface KubernetesResourceConfig extends HttpUpstreamConfig {
  type: "kubernetes";
  /** Kubernetes never needs the client's cookies. */
  dropCookies: true;
  identityHeaders: false;
  impersonate?: ImpersonationSpec;
}

const FIELDS = ["name", "type", "labels", "url", "ca", "credential", "impersonate"] as const;

export function parseKubernetesResource(field: string, raw: Record<string, unknown>, name: string, ctx: SecretRefContext): KubernetesResourceConfig {
  expectOnlyKeys(field, raw, FIELDS);
  // kubectl would never send its credential over plain HTTP; neither does the connector.
  const url = parseUpstreamUrl(`${field}.url`, raw.url, ["https:"]);
  const resource: KubernetesResourceConfig = {
    name,
    type: "kubernetes",
    labels: expectLabels(`${field}.labels`, raw.labels),
    url,
    credential: { kind: "none" },
    dropCookies: true,
    identityHeaders: false,
  };
  if (raw.ca !== undefined) resource.ca = parseCaBundle(`${field}.ca`, raw.ca, ctx);
  const cred = expectObject(`${field}.credential`, raw.credential);
  const keys = Object.keys(cred).sort().join(",");
  if (keys === "bearer") resource.credential = { kind: "bearer", token: parseSecretRef(`${field}.credential.bearer`, cred.bearer, ctx, "bearer token") };
  else if (keys === "client_cert,client_key") {
    resource.clientCert = parseSecretRef(`${field}.credential.client_cert`, cred.client_cert, ctx, "client certificate");
    resource.clientKey = parseSecretRef(`${field}.credential.client_key`, cred.client_key, ctx, "client key");
  } else throw new ConfigError(`${field}.credential`, "exactly one of bearer, or client_cert with client_key");
  if (raw.impersonate !== undefined) {
    try {
      resource.impersonate = compileImpersonation(raw.impersonate);
    } catch (e) {
      if (e instanceof PolicySyntaxError) throw new ConfigError(`${field}.impersonate`, e.message);
      throw e;
    }
    for (const t of [resource.impersonate.user, ...resource.impersonate.groups]) {
      if (t.includes("{claims.")) throw new ConfigError(`${field}.impersonate`, `'${t}': the connector knows {sub} and {iss} only`);
    }
  }
  return resource;
}
