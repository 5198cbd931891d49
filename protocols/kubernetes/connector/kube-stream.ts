/**
 * One Kubernetes session's connector stream: the HTTP stream (requests the worker let through,
 * the cluster credential added here) with Kubernetes' own header policy as its last word:
 * every `Impersonate-*` and front-proxy `X-Remote-*` header from upstream of here is dropped
 * (codec/headers.ts isClientIdentityHeader), and the resource's configured
 * impersonation (if any) is added for the session's identity.
 */
import { HttpTunnelStream, type StreamIdentity } from "../../http/connector/http-stream.ts";
import type { Identity } from "../../../parsers/identity.ts";
import { impersonationHeaders } from "../policy/impersonation.ts";
import { isClientIdentityHeader } from "../codec/headers.ts";
import type { KubernetesResourceConfig } from "./config.ts";

export class KubeTunnelStream extends HttpTunnelStream {
  protected override readonly resourceType = "kubernetes";

  protected override adjustRequestHeaders(headers: Array<[string, string]>, identity: StreamIdentity): Array<[string, string]> {
    const out = headers.filter(([name]) => !isClientIdentityHeader(name));
    const resource = this.ctx.resources.get(this.resourceName) as KubernetesResourceConfig | undefined;
    if (resource?.impersonate) {
      const who: Identity = { subject: identity.sub, issuer: identity.iss, claims: {} };
      out.push(...impersonationHeaders(resource.impersonate, who));
    }
    return out;
  }
}
