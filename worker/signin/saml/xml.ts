/**
 * A strict, minimal XML parser for SAML responses (workerd has no XML library). It accepts
 * elements, attributes, character data, the five predefined entities and character references,
 * and an XML declaration — and REFUSES everything else: DOCTYPE (entity expansion, XXE),
 * processing instructions, CDATA and comments (comments inside a NameID are the classic
 * "text truncation" signature bypass), undeclared prefixes, duplicate attributes. What it keeps
 * is exactly what exclusive canonicalization (c14n.ts) needs to reproduce the signed bytes.
 */

export class XmlRefused extends Error {
  override name = "XmlRefused";
}

export interface XmlAttr {
  qname: string;
  prefix: string;
  local: string;
  /** Namespace URI ("" for unprefixed attributes). */
  ns: string;
  value: string;
}

export interface XmlElement {
  kind: "element";
  qname: string;
  prefix: string;
  local: string;
  ns: string;
  attrs: XmlAttr[];
  /** Namespace declarations made on this element: prefix ("" = default) → URI. */
  decls: Map<string, string>;
  children: XmlNode[];
  parent: XmlElement | null;
}

export interface XmlText {
  kind: "text";
  value: string;
}

export type XmlNode = XmlElement | XmlText;

export const XML_NS = "http://www.w3.org/XML/1998/namespace";
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?$/;
const MAX_DEPTH = 64;
const MAX_NODES = 20_000;

function decodeEntities(raw: string, inAttribute: boolean): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === "&") {
      const end = raw.indexOf(";", i);
      if (end < 0 || end - i > 12) throw new XmlRefused("unterminated entity reference");
      const name = raw.slice(i + 1, end);
      if (name === "lt") out += "<";
      else if (name === "gt") out += ">";
      else if (name === "amp") out += "&";
      else if (name === "quot") out += '"';
      else if (name === "apos") out += "'";
      else if (/^#[0-9]{1,7}$/.test(name) || /^#x[0-9A-Fa-f]{1,6}$/.test(name)) {
        const code = name[1] === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new XmlRefused("invalid character reference");
        out += String.fromCodePoint(code);
      } else throw new XmlRefused(`entity &${name}; is not allowed`);
      i = end;
    } else if (ch === "<") {
      throw new XmlRefused("'<' in character data");
    } else if (inAttribute && (ch === "\t" || ch === "\n")) {
      // Attribute-value normalization (XML 1.0 §3.3.3): literal whitespace becomes a space.
      out += " ";
    } else out += ch;
  }
  return out;
}

function lookup(el: XmlElement | null, prefix: string): string | undefined {
  if (prefix === "xml") return XML_NS;
  for (let e = el; e; e = e.parent) {
    const v = e.decls.get(prefix);
    if (v !== undefined) return v;
  }
  return prefix === "" ? "" : undefined;
}

/** The namespace URI bound to `prefix` where `el` is ("" for an unbound default namespace). */
export function namespaceOf(el: XmlElement, prefix: string): string | undefined {
  return lookup(el, prefix);
}

export function parseXml(input: string): XmlElement {
  if (input.length > 256 * 1024) throw new XmlRefused("document larger than 256 KiB");
  // Line-end normalization (XML 1.0 §2.11).
  const s = input.replace(/\r\n?/g, "\n");
  let i = 0;
  let nodes = 0;
  if (s.startsWith("\uFEFF")) i = 1;
  const decl = /^<\?xml\s[^?]*\?>/.exec(s.slice(i));
  if (decl) {
    if (!/^<\?xml\s+version="1\.0"(\s+encoding="(UTF-8|utf-8)")?(\s+standalone="(yes|no)")?\s*\?>$/.test(decl[0])) throw new XmlRefused("unsupported XML declaration");
    i += decl[0].length;
  }
  let root: XmlElement | null = null;
  let current: XmlElement | null = null;
  let depth = 0;
  while (i < s.length) {
    if (s[i] === "<") {
      if (s.startsWith("<!--", i)) throw new XmlRefused("comments are not accepted");
      if (s.startsWith("<![CDATA[", i)) throw new XmlRefused("CDATA sections are not accepted");
      if (s.startsWith("<!", i)) throw new XmlRefused("DOCTYPE and declarations are not accepted");
      if (s.startsWith("<?", i)) throw new XmlRefused("processing instructions are not accepted");
      if (s.startsWith("</", i)) {
        const end = s.indexOf(">", i);
        if (end < 0) throw new XmlRefused("unterminated end tag");
        const name = s.slice(i + 2, end).trim();
        if (!current || name !== current.qname) throw new XmlRefused(`mismatched end tag </${name}>`);
        current = current.parent;
        depth--;
        i = end + 1;
        continue;
      }
      // Start tag: name, attributes, optional '/'.
      let j = i + 1;
      const nameMatch = /^[^\s/>]+/.exec(s.slice(j, j + 200));
      if (!nameMatch || !NAME.test(nameMatch[0])) throw new XmlRefused("invalid element name");
      const qname = nameMatch[0];
      j += qname.length;
      const rawAttrs: { qname: string; value: string }[] = [];
      let selfClosing = false;
      for (;;) {
        const ws = /^\s*/.exec(s.slice(j, j + 1000))![0];
        j += ws.length;
        if (s[j] === ">") {
          j++;
          break;
        }
        if (s.startsWith("/>", j)) {
          selfClosing = true;
          j += 2;
          break;
        }
        if (ws.length === 0) throw new XmlRefused("attributes must be separated by whitespace");
        const m = /^([^\s=/>]+)\s*=\s*(["'])/.exec(s.slice(j, j + 300));
        if (!m || !NAME.test(m[1]!) && !/^xmlns(:[A-Za-z_][A-Za-z0-9_.-]*)?$/.test(m[1]!)) throw new XmlRefused("invalid attribute");
        j += m[0].length;
        const end = s.indexOf(m[2]!, j);
        if (end < 0) throw new XmlRefused("unterminated attribute value");
        rawAttrs.push({ qname: m[1]!, value: decodeEntities(s.slice(j, end), true) });
        j = end + 1;
      }
      if (++nodes > MAX_NODES) throw new XmlRefused("too many nodes");
      const el: XmlElement = { kind: "element", qname, prefix: "", local: qname, ns: "", attrs: [], decls: new Map(), children: [], parent: current };
      const seen = new Set<string>();
      for (const a of rawAttrs) {
        if (seen.has(a.qname)) throw new XmlRefused(`duplicate attribute ${a.qname}`);
        seen.add(a.qname);
        if (a.qname === "xmlns") el.decls.set("", a.value);
        else if (a.qname.startsWith("xmlns:")) {
          if (a.value === "") throw new XmlRefused("a prefix cannot be undeclared");
          el.decls.set(a.qname.slice(6), a.value);
        }
      }
      const colon = qname.indexOf(":");
      el.prefix = colon < 0 ? "" : qname.slice(0, colon);
      el.local = colon < 0 ? qname : qname.slice(colon + 1);
      const ns = lookup(el, el.prefix);
      if (ns === undefined) throw new XmlRefused(`undeclared prefix ${el.prefix}`);
      el.ns = ns;
      const expanded = new Set<string>();
      for (const a of rawAttrs) {
        if (a.qname === "xmlns" || a.qname.startsWith("xmlns:")) continue;
        const c = a.qname.indexOf(":");
        const prefix = c < 0 ? "" : a.qname.slice(0, c);
        const local = c < 0 ? a.qname : a.qname.slice(c + 1);
        const ans = prefix === "" ? "" : lookup(el, prefix);
        if (ans === undefined) throw new XmlRefused(`undeclared prefix ${prefix}`);
        if (expanded.has(`${ans} ${local}`)) throw new XmlRefused(`duplicate attribute ${a.qname}`);
        expanded.add(`${ans} ${local}`);
        el.attrs.push({ qname: a.qname, prefix, local, ns: ans, value: a.value });
      }
      if (current) current.children.push(el);
      else if (root) throw new XmlRefused("more than one root element");
      else root = el;
      if (!selfClosing) {
        current = el;
        if (++depth > MAX_DEPTH) throw new XmlRefused("nesting too deep");
      }
      i = j;
    } else {
      const end = s.indexOf("<", i);
      const raw = s.slice(i, end < 0 ? s.length : end);
      if (!current) {
        if (raw.trim() !== "") throw new XmlRefused("text outside the root element");
      } else {
        if (raw.includes("]]>")) throw new XmlRefused("']]>' in character data");
        current.children.push({ kind: "text", value: decodeEntities(raw, false) });
        if (++nodes > MAX_NODES) throw new XmlRefused("too many nodes");
      }
      i = end < 0 ? s.length : end;
    }
  }
  if (!root || current) throw new XmlRefused("unterminated document");
  return root;
}

export function childElements(el: XmlElement, ns?: string, local?: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => c.kind === "element" && (ns === undefined || c.ns === ns) && (local === undefined || c.local === local));
}

/** Exactly one child element with this name, or a refusal. */
export function onlyChild(el: XmlElement, ns: string, local: string): XmlElement {
  const found = childElements(el, ns, local);
  if (found.length !== 1) throw new XmlRefused(`expected exactly one ${local} in ${el.local}, found ${found.length}`);
  return found[0]!;
}

export function optionalChild(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  const found = childElements(el, ns, local);
  if (found.length > 1) throw new XmlRefused(`more than one ${local} in ${el.local}`);
  return found[0];
}

/** Text content of an element that must hold text only. */
export function textOf(el: XmlElement): string {
  let out = "";
  for (const c of el.children) {
    if (c.kind !== "text") throw new XmlRefused(`${el.local} must contain text only`);
    out += c.value;
  }
  return out;
}

export function attr(el: XmlElement, local: string): string | undefined {
  return el.attrs.find((a) => a.ns === "" && a.local === local)?.value;
}

export function* allElements(el: XmlElement): Generator<XmlElement> {
  yield el;
  for (const c of el.children) if (c.kind === "element") yield* allElements(c);
}
