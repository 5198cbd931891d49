/**
 * Exclusive XML Canonicalization 1.0 without comments (https://www.w3.org/TR/xml-exc-c14n/) of
 * an element subtree from xml.ts, optionally leaving one descendant out (the enveloped-signature
 * transform). The parser refuses comments, PIs and CDATA, so only elements and text remain.
 */
import { namespaceOf, XML_NS, type XmlElement } from "./xml.ts";

function escText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#xD;");
}

function escAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;").replace(/\t/g, "&#x9;").replace(/\n/g, "&#xA;").replace(/\r/g, "&#xD;");
}

export interface C14nOptions {
  /** InclusiveNamespaces PrefixList ("#default" for the default namespace). */
  inclusivePrefixes?: readonly string[];
  /** A descendant left out of the output (enveloped signature). */
  exclude?: XmlElement;
}

export function exclusiveC14n(apex: XmlElement, options: C14nOptions = {}): string {
  const inclusive = (options.inclusivePrefixes ?? []).map((p) => (p === "#default" ? "" : p));
  const out: string[] = [];
  const render = (el: XmlElement, rendered: Map<string, string>) => {
    const needed = new Set<string>([el.prefix]);
    for (const a of el.attrs) if (a.prefix !== "") needed.add(a.prefix);
    for (const p of inclusive) if (namespaceOf(el, p) !== undefined) needed.add(p);
    const decls: [string, string][] = [];
    const next = new Map(rendered);
    for (const p of needed) {
      if (p === "xml") continue;
      const uri = namespaceOf(el, p) ?? "";
      const before = rendered.get(p) ?? "";
      if (p === "" ? uri !== before : uri !== rendered.get(p)) {
        decls.push([p, uri]);
        next.set(p, uri);
      }
    }
    decls.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const attrs = [...el.attrs].sort((a, b) => {
      const an = a.ns === XML_NS ? XML_NS : a.ns;
      const bn = b.ns === XML_NS ? XML_NS : b.ns;
      if (an !== bn) return an < bn ? -1 : 1;
      return a.local < b.local ? -1 : a.local > b.local ? 1 : 0;
    });
    let tag = `<${el.qname}`;
    for (const [p, uri] of decls) tag += p === "" ? ` xmlns="${escAttr(uri)}"` : ` xmlns:${p}="${escAttr(uri)}"`;
    for (const a of attrs) tag += ` ${a.qname}="${escAttr(a.value)}"`;
    out.push(tag + ">");
    for (const c of el.children) {
      if (c.kind === "text") out.push(escText(c.value));
      else if (c !== options.exclude) render(c, next);
    }
    out.push(`</${el.qname}>`);
  };
  render(apex, new Map());
  return out.join("");
}
