/**
 * A tenant named by the path prefix (`/t/<tenant>/…`) is served with the prefix stripped, so the
 * unchanged worker writes root-relative URLs (`/console/…`, `/signin`) that a browser would send to
 * the platform — no tenant, 404 — or, worse, to whatever the root serves. This filter puts the
 * tenant's prefix back on the way out, in the only places a browser follows them: the `Location`
 * of a redirect and the `href` / `action` / `src` / `data-cast` attributes of the console's HTML.
 * Absolute URLs (the identity provider's) and protocol-relative ones are left alone. Nothing else
 * (API JSON, recordings, WebSocket upgrades) is touched.
 */
const ATTRIBUTES = ["href", "action", "src", "data-cast"] as const;

/** A root-relative URL (one slash, not two): the worker's own path. */
const rootRelative = (value: string) => value.startsWith("/") && !value.startsWith("//");

export function withPathPrefix(response: Response, prefix: string): Response {
  const location = response.headers.get("location");
  const html = /^text\/html\b/i.test(response.headers.get("content-type") ?? "");
  if (response.status === 101 || (!html && !(location && rootRelative(location)))) return response;
  const out = new Response(response.body, response);
  if (location && rootRelative(location)) out.headers.set("location", prefix + location);
  if (!html) return out;
  let rewriter = new HTMLRewriter();
  for (const name of ATTRIBUTES) {
    rewriter = rewriter.on(`[${name}]`, {
      element(el) {
        const value = el.getAttribute(name);
        if (value !== null && rootRelative(value)) el.setAttribute(name, prefix + value);
      },
    });
  }
  return rewriter.transform(out);
}
