/**
 * Masking of HTTP responses with the session's masking rules (the same WASM detectors, custom
 * patterns and counts as SQL results and SSH output):
 *
 *  - bodies: `Content-Encoding` gzip/deflate decoded first (DecompressionStream, streamed); any
 *    other coding (br, zstd, stacked codings) is refused — the worker asks the upstream for
 *    `gzip, deflate` only, so an upstream that still sends br gets a 502, never an unmasked body;
 *    JSON (`application/json`, `+json`) by key name / JSON path and detectors (json-mask.ts);
 *    media (image/audio/video/font) passed as is; everything else (text, HTML, XML, form,
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
      let inner: { push(b: Uint8Array): Uint8Array; end(): Uint8Array };
      if (/^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType.trim())) {
        const json = new JsonBodyMasker({
          rules: jsonRules,
          detect: (t) => masker.maskText(t),
          hash: hashKey ? (v) => `h:${hex(hmacSha256(hashKey, v)).slice(0, 16)}` : undefined,
          counted: count,
        });
        inner = json;
      } else if (MEDIA.test(contentType.trim())) {
        inner = { push: (b) => b, end: () => new Uint8Array(0) };
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

