/**
 * Refusals in the client's own protocol: a Kubernetes `Status` object (meta/v1), which kubectl
 * prints as `Error from server (<Reason>): <message>` and turns into exit code 1.
 */
import type { KubeRequest } from "./request.ts";
import { resourceLabel } from "./request.ts";

export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: Array<{ reason: string; message: string }>; retryAfterSeconds?: number };
  code: number;
}

export function kubeStatus(code: number, reason: string, message: string, details?: KubeStatus["details"]): KubeStatus {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code };
}

/** What the policy refused, as the API server words an authorization failure (kubectl: "Error from server (Forbidden): …"). */
export function forbiddenStatus(req: KubeRequest, why: string): KubeStatus {
  if (req.kind === "nonresource") return kubeStatus(403, "Forbidden", `forbidden: ${req.method} ${req.path}: ${why}`);
  const subject = req.name ? `${resourceLabel(req)} "${req.name}"` : resourceLabel(req);
  const scope = req.namespace && !(req.resource === "namespaces" && req.name === req.namespace) ? ` in the namespace "${req.namespace}"` : "";
  return kubeStatus(403, "Forbidden", `${subject} is forbidden: ${why} (gatehouse: ${req.verb}${scope})`, {
    ...(req.name ? { name: req.name } : {}),
    group: req.group,
    kind: req.resource,
  });
}

/** A request the gateway cannot read by meaning (request.ts KubeRequestError, media types, sizes). */
export function badRequestStatus(message: string): KubeStatus {
  return kubeStatus(400, "BadRequest", `gatehouse: ${message}`);
}

export function unsupportedMediaTypeStatus(message: string): KubeStatus {
  return kubeStatus(415, "UnsupportedMediaType", `gatehouse: ${message}`);
}

/** The HTTP response for a Status (the body kubectl decodes). */
export function statusResponse(status: KubeStatus): { status: number; headers: Record<string, string>; body: string } {
  const body = JSON.stringify(status);
  return { status: status.code, headers: { "content-type": "application/json", "content-length": String(new TextEncoder().encode(body).length) }, body };
}

/**
 * A `Warning` response header (RFC 7234 code 299): kubectl prints it on stderr as
 * `Warning: <text>`. Used to name the approval a request waited for.
 */
export function warningHeader(text: string): string {
  return `299 - ${JSON.stringify(text.replace(/[\u0000-\u001f\u007f]/g, " "))}`;
}
