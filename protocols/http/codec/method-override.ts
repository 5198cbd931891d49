/**
 * Method overrides: a request that asks the upstream to run another method than its own. Rails
 * (Rack::MethodOverride), Express (method-override), Hono (hono/method-override), Symfony, Laravel
 * and ASP.NET read `X-HTTP-Method-Override` (ASP.NET also `X-HTTP-Method`, `X-Method-Override`) or a
 * `_method` parameter on a POST and run the handler of the method it names. The policy decides the
 * request line's method, so a POST allowed by a rule could run as a DELETE a rule denies: such a
 * request is refused (400) before anything is forwarded.
 *
 * Header names are compared with `_` read as `-`: CGI-style servers (Rack, WSGI, PHP) see
 * `X_HTTP_Method_Override` as the same HTTP_X_HTTP_METHOD_OVERRIDE variable. Query names are
 * compared decoded and case-insensitively. Not covered: a `_method` field inside a form body (the
 * body streams to the upstream; docs/HTTP.md) and an application's own parameter names.
 */
import { HttpCodecError } from "./errors.ts";
import type { HttpHeader } from "./head.ts";
import { queryParams } from "./path.ts";

const OVERRIDE_HEADERS = new Set(["x-http-method-override", "x-http-method", "x-method-override"]);
const OVERRIDE_PARAMS = new Set(["_method"]);

export function refuseMethodOverride(headers: readonly HttpHeader[], query: string | null): void {
  for (const h of headers) {
    if (OVERRIDE_HEADERS.has(h.name.toLowerCase().replace(/_/g, "-"))) throw new HttpCodecError(400, `${h.rawName} is not accepted: the upstream could run another method than the one the policy decided`);
  }
  for (const [name] of queryParams(query)) {
    if (OVERRIDE_PARAMS.has(name.toLowerCase())) throw new HttpCodecError(400, `the query parameter ${JSON.stringify(name)} is not accepted: the upstream could read it as another method than the one the policy decided`);
  }
}
