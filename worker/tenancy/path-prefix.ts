/**
 * A tenant named by the path prefix (`/t/<tenant>/…`) is served with the prefix stripped, so the
 * unchanged worker writes root-relative URLs (`/console/…`, `/signin`) that a browser would send to
 * the platform — no tenant, 404 — or, worse, to whatever the root serves. This filter puts the
 * tenant's prefix back on the way out, in the only places a browser follows them: the `Location`
 * of a redirect, the URL attributes of the console's HTML (`href`, `action`, `formaction`, `src`,
 * `poster`, `data-cast`, each candidate of a `srcset`) and a `<meta http-equiv="refresh">` URL.
 * Absolute URLs (the identity provider's) and protocol-relative ones are left alone. Nothing else
 * (API JSON, recordings, WebSocket upgrades) is touched.
 */
const ATTRIBUTES = ["href", "action", "formaction", "src", "poster", "data-cast"] as const;

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
  rewriter = rewriter.on("[srcset]", {
    element(el) {
      const value = el.getAttribute("srcset");
      if (value !== null) el.setAttribute("srcset", prefixSrcset(value, prefix));
    },
  });
  rewriter = rewriter.on("meta[http-equiv]", {
    element(el) {
      const content = el.getAttribute("content");
      if ((el.getAttribute("http-equiv") ?? "").toLowerCase() !== "refresh" || content === null) return;
      // `<seconds>; url=<url>` (the `url=` optional, the URL maybe quoted).
      const m = /^(\s*[\d.]+\s*[;,]\s*(?:url\s*=\s*)?['"]?)(.*)$/is.exec(content);
      if (m && rootRelative(m[2]!)) el.setAttribute("content", m[1]! + prefix + m[2]!);
    },
  });
  return rewriter.transform(out);
}

/**
 * A srcset is candidates `<url> [descriptors]` separated by commas — but a URL may itself hold
 * commas (`data:…;base64,/9j/…`, `/img?a=1,2`), so it is read as the HTML standard does: skip
 * spaces and commas, the URL is the run up to the next space (trailing commas end the candidate),
 * the descriptors run to the next comma outside parentheses. Each root-relative URL gets the prefix.
 */
export function prefixSrcset(value: string, prefix: string): string {
  const starts: number[] = [];
  let i = 0;
  const space = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";
  while (i < value.length) {
    while (i < value.length && (space(value[i]) || value[i] === ",")) i++;
    if (i >= value.length) break;
    const start = i;
    while (i < value.length && !space(value[i])) i++;
    let end = i;
    while (end > start && value[end - 1] === ",") end--;
    if (rootRelative(value.slice(start, end))) starts.push(start);
    if (end < i) continue; // the URL's trailing commas ended the candidate: no descriptors
    let depth = 0;
    for (; i < value.length; i++) {
      const c = value[i];
      if (c === "(") depth++;
      else if (c === ")") depth = Math.max(0, depth - 1);
      else if (c === "," && depth === 0) break;
    }
  }
  let out = "";
  let from = 0;
  for (const at of starts) {
    out += value.slice(from, at) + prefix;
    from = at;
  }
  return out + value.slice(from);
}
