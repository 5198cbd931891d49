/** An HTTP request as the shared chain and the policy see it (protocols/types.ts RequestDescription). */
import type { RequestDescription } from "../../types.ts";
import type { HttpRequestDescription } from "./http-policy.ts";

export function httpRequest(request: HttpRequestDescription): RequestDescription {
  const query = request.query.length > 0 ? `?${request.query.map(([k, v]) => `${k}=${v}`).join("&")}` : "";
  return {
    protocol: "http",
    actions: [request.method.toLowerCase(), ...(request.upgrade ? [`upgrade:${request.upgrade}`] : [])],
    target: request.path,
    // What runs if allowed: the request line as forwarded (normalised path, decoded query).
    text: `${request.method} ${request.path}${query}`,
    attributes: { request },
  };
}
