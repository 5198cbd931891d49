/**
 * Masking of HTTP responses with the session's masking rules (the same WASM detectors, custom
 * patterns and counts as SQL results and SSH output):
 *
 *  - bodies: `Content-Encoding` gzip/deflate decoded first (DecompressionStream, streamed); any
 *    other coding (br, zstd, stacked codings) is refused — the worker asks the upstream for
 *    `gzip, deflate` only, so an upstream that still sends br gets a 502, never an unmasked body;
 *    JSON (`application/json`, `+json`) by key name / JSON path and detectors (json-mask.ts);
 *    media (image/audio/video/font) passed as is when its bytes start with a media signature
 *    (masked as text otherwise: the label can be the client's choice); everything else (text, HTML, XML, form,
 *    event-stream, octet-stream) through the streaming detector window (parsers/ssh/stream-window.ts);
 *  - headers: a header whose name matches a rule's `columns` glob is masked whole (Set-Cookie
 *    keeps the cookie name and attributes); every other value goes through the detectors.
 */
import type { SessionMasker } from "../../../worker/masking/session-masker.ts";
import type { MaskingConfig, MaskingRule } from "../../../parsers/masking/config.ts";
import { textMaskFromSessionMasker } from "../../../worker/masking/text-mask.ts";
import type { StreamWindow } from "../../ssh/codec/stream-window.ts";
import { compileGlob } from "../../../parsers/policy/glob.ts";
import { hmacSha256 } from "../../../parsers/masking/reference.ts";
import { JsonBodyMasker } from "../masking/json-mask.ts";

/** Decoding + masking of one response body; output in order via `emit`. */
export interface BodyTransform {
  push(bytes: Uint8Array): Promise<void>;
  end(): Promise<void>;
}

export interface ResponseMasking {
  header(name: string, value: string): string;
  /** A transform for one body; throws when the body cannot be decoded to be masked. */
  body(contentType: string, encodings: string[], emit: (bytes: Uint8Array) => void): BodyTransform;
  /** Whether `body` removes these content codings (the Content-Encoding header goes too). */
  decodes(encodings: string[]): boolean;
  text(value: string): string;
  /** A streaming detector window for one stream that arrives in pieces (Kubernetes exec output; `input`: typed input). */
  window(opts?: { input?: boolean; sameLength?: boolean }): StreamWindow;
  counts(): Record<string, number>;
}

const enc = new TextEncoder();
/** Texts up to this length the detectors left alone are remembered (per session), at most MEMO_ENTRIES of them. */
const MEMO_MAX_LENGTH = 512;
const MEMO_ENTRIES = 512;
const MEDIA = /^(image|audio|video|font)\//i;

/**
 * Binary media signatures (the first bytes of the formats image/audio/video/font bodies come in).
 * A body labelled as media passes unmasked only when it starts with one: the label is the
 * upstream's, and a client can often choose it (S3/GCS/Azure `response-content-type`, download
 * endpoints, content negotiation), so JSON or text labelled `image/png` is masked as text. Text
 * formats (SVG) and weak ASCII signatures (BMP's `BM`) are not in the list.
 */
const SNIFF_BYTES = 12;
function isBinaryMedia(b: Uint8Array): boolean {
  const at = (off: number, ...bytes: number[]) => bytes.every((x, i) => b[off + i] === x);
  const ascii = (off: number, s: string) => at(off, ...[...s].map((c) => c.charCodeAt(0)));
  return (
    at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a) || // PNG
    at(0, 0xff, 0xd8, 0xff) || // JPEG
    ascii(0, "GIF87a") || ascii(0, "GIF89a") ||
    (ascii(0, "RIFF") && (ascii(8, "WEBP") || ascii(8, "WAVE") || ascii(8, "AVI "))) ||
    at(0, 0x00, 0x00, 0x01, 0x00) || // ICO
    at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a) || // TIFF
    ascii(4, "ftyp") || // MP4, MOV, M4A, AVIF, HEIC
    at(0, 0x1a, 0x45, 0xdf, 0xa3) || // WebM, Matroska
    ascii(0, "OggS") || ascii(0, "fLaC") || ascii(0, "ID3") ||
    (b[0] === 0xff && b.length > 1 && (b[1]! & 0xe0) === 0xe0) || // MPEG audio frame, ADTS
    ascii(0, "wOFF") || ascii(0, "wOF2") || ascii(0, "OTTO") || ascii(0, "ttcf") || at(0, 0x00, 0x01, 0x00, 0x00) // fonts
  );
}

type Inner = { push(b: Uint8Array): Uint8Array; end(): Uint8Array };
const EMPTY = new Uint8Array(0);

/** A media body: passed as is when its first bytes are a media signature, masked as text otherwise. */
function mediaOrText(text: () => Inner): Inner {
  let head = EMPTY;
  let decided: Inner | null = null;
  const decide = (): Uint8Array => {
    decided = isBinaryMedia(head) ? { push: (b) => b, end: () => EMPTY } : text();
    const out = decided.push(head);
    head = EMPTY;
    return out;
  };
  return {
    push(b) {
      if (decided) return decided.push(b);
      const joined = new Uint8Array(head.length + b.length);
      joined.set(head);
      joined.set(b, head.length);
      head = joined;
      return head.length < SNIFF_BYTES ? EMPTY : decide();
    },
    end() {
      const first = decided ? EMPTY : decide();
      const rest = decided!.end();
      if (first.length === 0) return rest;
      const out = new Uint8Array(first.length + rest.length);
      out.set(first);
      out.set(rest, first.length);
      return out;
    },
  };
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function createResponseMasking(masker: SessionMasker, config: MaskingConfig): ResponseMasking {
  const text = textMaskFromSessionMasker(masker, config);
  const rules = config.rules as MaskingRule[];
  const jsonCounts: Record<string, number> = {};
  const hashKey = typeof config.hashKey === "string" ? enc.encode(config.hashKey) : config.hashKey;
  const headerRules = rules.flatMap((r) => (r.columns ?? []).filter((c) => !c.startsWith("$")).map((c) => ({ rule: r, glob: compileGlob(c.toLowerCase()) })));
  const jsonRules = rules.filter((r) => (r.columns ?? []).length > 0).map((r) => ({ name: r.name, style: r.style, keep: r.keep ?? 4, columns: r.columns! }));
  const count = (name: string) => (jsonCounts[name] = (jsonCounts[name] ?? 0) + 1);

  // The same short texts come back on every request of a session (methods and paths, Accept,
  // User-Agent, Content-Type, Date-like headers, the rule's reason). A text the detectors left
  // unchanged and uncounted gives the same answer next time (masking is a function of the text
  // and the session's rules), so it is not scanned again; anything masked is always rescanned,
  // so counts and output are exactly what a fresh scan gives.
  const clean = new Set<string>();
  const totalMasked = () => Object.values(text.counts()).reduce((a, b) => a + b, 0);
  const maskText = (value: string): string => {
    const memo = value.length <= MEMO_MAX_LENGTH;
    if (memo && clean.has(value)) return value;
    const before = memo ? totalMasked() : 0;
    const out = text.text(value);
    if (memo && out === value && totalMasked() === before) {
      if (clean.size >= MEMO_ENTRIES) clean.clear();
      clean.add(value);
    }
    return out;
  };

  const maskWhole = (rule: MaskingRule, value: string): string => {
    count(rule.name);
    if (rule.style === "hash" && hashKey) return `h:${hex(hmacSha256(hashKey, enc.encode(value))).slice(0, 16)}`;
    if (rule.style === "partial") {
      const cps = [...value];
      const keep = Math.min(rule.keep ?? 4, cps.length);
      return cps.length <= (rule.keep ?? 4) ? "*".repeat(cps.length) : "*".repeat(cps.length - keep) + cps.slice(cps.length - keep).join("");
    }
    return "[REDACTED]";
  };

  const decodes = (encodings: string[]) => encodings.length === 1 && ["gzip", "x-gzip", "deflate"].includes(encodings[0]!);

  return {
    header(name, value) {
      const hit = headerRules.find((h) => h.glob.matches(name));
      if (hit) {
        if (name === "set-cookie") {
          const semi = value.indexOf(";");
          const pair = semi < 0 ? value : value.slice(0, semi);
          const eq = pair.indexOf("=");
          return `${eq < 0 ? "" : `${pair.slice(0, eq)}=`}${maskWhole(hit.rule, eq < 0 ? pair : pair.slice(eq + 1))}${semi < 0 ? "" : value.slice(semi)}`;
        }
        return maskWhole(hit.rule, value);
      }
      return maskText(value);
    },
    decodes,
    body(contentType, encodings, emit) {
      if (encodings.length > 0 && !decodes(encodings)) {
        throw new Error(`the upstream sent Content-Encoding ${encodings.join(", ")}, which the gateway cannot decode to mask the body (it asks for gzip or deflate only)`);
      }
      let inner: Inner;
      if (/^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType.trim())) {
        const json = new JsonBodyMasker({
          rules: jsonRules,
          detect: (t) => masker.maskText(t),
          hash: hashKey ? (v) => `h:${hex(hmacSha256(hashKey, v)).slice(0, 16)}` : undefined,
          counted: count,
        });
        inner = json;
      } else if (MEDIA.test(contentType.trim())) {
        inner = mediaOrText(() => text.window());
      } else {
        inner = text.window();
      }
      if (encodings.length === 0) {
        return {
          push: async (b) => emit(inner.push(b)),
          end: async () => emit(inner.end()),
        };
      }
      const format = encodings[0] === "deflate" ? "deflate" : "gzip";
      const ds = new DecompressionStream(format);
      const writer = ds.writable.getWriter();
      const reader = ds.readable.getReader();
      const status: { failure?: Error } = {};
      const failed = (): Error | undefined => status.failure;
      const pump = (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          emit(inner.push(value));
        }
      })().catch((e: Error) => {
        status.failure = e;
      });
      // A write rejects when the stream failed; the reason is reported once by the pump.
      const quiet = (p: Promise<void>) => p.catch((e: Error) => void (status.failure ??= e));
      return {
        push: async (b) => {
          if (status.failure) throw status.failure;
          await quiet(writer.write(b));
          const f = failed();
          if (f) throw new Error(`cannot decode the ${format} body: ${f.message}`);
        },
        end: async () => {
          if (!status.failure) await quiet(writer.close());
          await pump;
          const f = failed();
          if (f) throw new Error(`cannot decode the ${format} body: ${f.message}`);
          emit(inner.end());
        },
      };
    },
    text: maskText,
    window: (opts) => text.window(opts),
    counts() {
      const out: Record<string, number> = { ...text.counts() };
      for (const [k, v] of Object.entries(jsonCounts)) out[k] = (out[k] ?? 0) + v;
      return out;
    },
  };
}

