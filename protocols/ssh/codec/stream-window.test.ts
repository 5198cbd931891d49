/**
 * The per-stream masking window with the real WASM masker (same detectors as SQL results): a
 * secret is masked however the stream is cut, whatever the pauses (there is no timer: a piece is
 * a piece), escape sequences inside it do not hide it, and memory stays bounded under a flood.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { StreamWindow } from "./stream-window.ts";
import { shapesFor, allBuiltinShapes } from "./match-shapes.ts";
import { createMasker, type MaskingConfig } from "../../../wasm/loader/mask.ts";
import { loadWasmModule } from "../../../wasm/loader/node.ts";
import { compileConfig } from "../../../parsers/masking/config.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const CONFIG: MaskingConfig = {
  rules: [
    { name: "secrets", detectors: ["all"], style: "redact" },
    { name: "ids", patterns: ["EMP-\\d{6}"], style: "redact" },
  ],
} as MaskingConfig;

function window(opts: { sameLength?: boolean; maxTail?: number; maxPemHold?: number; config?: MaskingConfig } = {}) {
  const config = opts.config ?? CONFIG;
  const masker = createMasker(loadWasmModule("mask"), config);
  const compiled = compileConfig(config);
  const w = new StreamWindow(masker, { shapes: shapesFor(compiled.detectorRule, compiled.customs), ...opts });
  return { w, masker };
}

/** Feeds the pieces (each a separate write, any pause between), then ends the stream. */
function through(pieces: string[], opts: Parameters<typeof window>[0] = {}): { out: string; releasedBeforeEnd: string; counts: Record<string, number> } {
  const { w, masker } = window(opts);
  let out = "";
  for (const p of pieces) out += dec.decode(w.push(enc.encode(p)), { stream: true });
  const releasedBeforeEnd = out;
  out += dec.decode(w.end());
  return { out, releasedBeforeEnd, counts: masker.counts() };
}

const GH = `ghp_${"a1B2".repeat(9)}`;
const AKIA = "AKIAIOSFODNN7EXAMPLE";
const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
const EMAIL = "jane.doe@example.com";
const CARD = "4111 1111 1111 1111";
const SECRETS = [GH, AKIA, JWT, EMAIL, CARD, "EMP-123456", "123-45-6789", "+44 20 7946 0958", "GB82 WEST 1234 5698 7654 32"];

describe("scanText (match spans from the WASM masker)", () => {
  it("describes maskText's output exactly and counts nothing until count()", () => {
    const { masker } = window();
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...SECRETS), fc.string({ maxLength: 12 })), { maxLength: 8 }), (parts) => {
        const bytes = enc.encode(parts.join(" "));
        const before = JSON.stringify(masker.counts());
        const { output, spans } = masker.scanText(bytes);
        expect(JSON.stringify(masker.counts())).toBe(before);
        const rebuilt: number[] = [];
        let pos = 0;
        for (const sp of spans) {
          rebuilt.push(...bytes.subarray(pos, sp.start), ...output.subarray(sp.outStart, sp.outEnd));
          pos = sp.end;
        }
        rebuilt.push(...bytes.subarray(pos));
        expect(Uint8Array.from(rebuilt)).toEqual(output);
        expect(output).toEqual(masker.maskText(bytes));
      }),
      { numRuns: 200 },
    );
  });
});

describe("SSH stream window", () => {
  it("masks every detector's secret split into two writes at every position", () => {
    for (const secret of SECRETS) {
      const line = `value: ${secret} done\n`;
      for (let cut = 0; cut <= line.length; cut++) {
        const { out } = through([line.slice(0, cut), line.slice(cut)]);
        expect(out, `${secret} cut at ${cut}`).not.toContain(secret);
        expect(out).toContain("value: ");
        expect(out).toContain(" done\n");
      }
    }
  });

  it("releases nothing that could still become a secret while the stream pauses (printf a; sleep; printf b)", () => {
    const { w } = window();
    expect(dec.decode(w.push(enc.encode("token: ghp_a1B2")))).toBe("token: ");
    // However long the pause: no timer, nothing more is released until bytes settle it.
    expect(w.heldBytes).toBe("ghp_a1B2".length);
    const rest = dec.decode(w.push(enc.encode(`${"a1B2".repeat(8)}a1B2 next`)));
    expect(rest).toBe("[REDACTED] ");
    expect(dec.decode(w.end())).toBe("next");
  });

  it("never delays output that cannot be the start of a match (prompts, line ends)", () => {
    const { w } = window();
    expect(dec.decode(w.push(enc.encode("user@host:~$ ")))).toBe("user@host:~$ ");
    expect(dec.decode(w.push(enc.encode("done\n")))).toBe("done\n");
    expect(dec.decode(w.push(enc.encode("Password: ")))).toBe("Password: ");
    expect(w.heldBytes).toBe(0);
  });

  it("masks a secret written one byte at a time", () => {
    for (const secret of SECRETS) {
      const { out } = through([...`x ${secret}\n`]);
      expect(out, secret).not.toContain(secret);
      expect(out.startsWith("x ")).toBe(true);
    }
  });

  it("masks whatever the chunking (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...SECRETS), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 30 }),
        fc.constantFrom(" ", "\n", ", ", " | ", "\t"),
        (secrets, sizes, sep) => {
          const text = `start${sep}${secrets.join(sep)}${sep}end\n`;
          const pieces: string[] = [];
          let off = 0;
          for (let k = 0; off < text.length; k++) {
            const n = sizes[k % sizes.length]!;
            pieces.push(text.slice(off, off + n));
            off += n;
          }
          const { out } = through(pieces);
          for (const s of secrets) expect(out).not.toContain(s);
          expect(out.endsWith(`${sep}end\n`)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("sees through escape sequences, \\r, backspaces and colour codes inside a secret (terminal view)", () => {
    const cases = [
      `ghp_${"a1B2".repeat(4)}\x1b[0m${"a1B2".repeat(5)}\n`,
      `ghp_${"a1B2".repeat(4)}\x1b[1C${"a1B2".repeat(5)}\n`,
      `ghp_${"a1B2".repeat(4)}\x1b]0;title\x07${"a1B2".repeat(5)}\n`,
      `AKIAIOSF\rODNN7EXAMPLE\n`,
      `AKIAIOSFX\bODNN7EXAMPLE\n`,
      `jane.doe\x1b[31m@\x1b[0mexample.com\n`,
      // cursor movement: wrong characters overwritten after moving back (only the screen shows the key)
      `AKIAIOSFODNN7EXAMPLx\x1b[DE\n`,
      `AKIAIOSFODNN7EXAMxyz\x1b[3DPLE\n`,
      `AKIAIOSFODNN7EXAMxyz\x1b[18GPLE\n`,
    ];
    for (const c of cases) {
      for (let cut = 0; cut <= c.length; cut++) {
        const { out } = through([c.slice(0, cut), c.slice(cut)]);
        const visible = out.replace(/\x1b\[[0-9;]*[A-Za-z]|\x1b\][^\x07]*\x07|[\r]/g, "").replace(/.\x08/g, "");
        // No piece of a secret is released before the rest has settled it.
        for (const piece of ["AKIAIOSF", "ghp_a1B2", "jane.doe"]) expect(out, JSON.stringify(c) + cut).not.toContain(piece);
        for (const s of [GH, AKIA, EMAIL]) expect(visible, JSON.stringify(c) + cut).not.toContain(s);
        expect(out, JSON.stringify(c)).toContain("[REDACTED]");
      }
    }
  });

  it("holds a PEM private key until its END line, and masks a longer one line by line", () => {
    const key = `-----BEGIN OPENSSH PRIVATE KEY-----\n${"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n".repeat(20)}-----END OPENSSH PRIVATE KEY-----\n`;
    const { w } = window();
    let out = dec.decode(w.push(enc.encode(`before\n${key.slice(0, 300)}`)));
    expect(out).toBe("before\n");
    out += dec.decode(w.push(enc.encode(key.slice(300))));
    out += dec.decode(w.end());
    expect(out).not.toContain("b3BlbnNzaC1rZXkt");
    expect(out).toContain("[REDACTED]");

    const small = window({ maxPemHold: 200 }).w;
    let o = "";
    for (let k = 0; k < key.length; k += 100) o += dec.decode(small.push(enc.encode(key.slice(k, k + 100))));
    o += dec.decode(small.push(enc.encode("after the key\n")));
    o += dec.decode(small.end());
    expect(o).not.toContain("b3BlbnNzaC1rZXkt");
    expect(o).toContain("after the key\n");
  });

  it("same-length mode replaces each match with as many '*' bytes (framing that counts bytes stays valid)", () => {
    const text = `a ${GH} b ${EMAIL} c\n`;
    for (let cut = 0; cut <= text.length; cut += 7) {
      const { out, counts } = through([text.slice(0, cut), text.slice(cut)], { sameLength: true });
      expect(out).toBe(`a ${"*".repeat(GH.length)} b ${"*".repeat(EMAIL.length)} c\n`);
      expect(counts.secrets).toBe(2);
    }
  });

  it("counts each released match once, however often it was re-scanned while held", () => {
    const { counts } = through([..."k=AKIAIOSFODNN7EXAMPLE\n"]);
    expect(counts.secrets).toBe(1);
  });

  it("keeps multibyte UTF-8 characters split across writes intact", () => {
    const text = "é ghp_" + "a1B2".repeat(9) + " ü€\n";
    const bytes = enc.encode(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { w } = window();
      const out = Buffer.concat([w.push(bytes.subarray(0, cut)), w.push(bytes.subarray(cut)), w.end()]).toString("utf8");
      expect(out).toBe("é [REDACTED] ü€\n");
    }
  });

  it("uses released context: the aws_secret_key context word may have been released already", () => {
    const key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const { out } = through(["aws_secret_access_key = ", key.slice(0, 10), key.slice(10), "\n"]);
    expect(out).not.toContain(key);
  });

  it("bounds memory under a flood: held bytes never exceed the tail and PEM limits", () => {
    const { w } = window({ maxTail: 1024, maxPemHold: 8192 });
    let max = 0;
    let released = 0;
    const floods = ["a".repeat(50_000), "a.".repeat(50_000), "1 ".repeat(50_000), `-----BEGIN RSA PRIVATE KEY-----\n${"QUJD\n".repeat(20_000)}`, "eyJ" + "x".repeat(100_000)];
    for (const flood of floods) {
      const bytes = enc.encode(flood);
      for (let k = 0; k < bytes.length; k += 4096) {
        released += w.push(bytes.subarray(k, k + 4096)).length;
        max = Math.max(max, w.heldBytes);
      }
    }
    expect(max).toBeLessThanOrEqual(8192 + 1024 + 4096);
    expect(released).toBeGreaterThan(200_000);
  });

  it("masks secrets printed reversed (rev), base64 (wrapped or not) and hex (xxd -p), however the output is cut", () => {
    const file = `config:\n${SECRETS.map((x) => `key ${x} end`).join("\n")}\n`;
    const b64 = Buffer.from(file).toString("base64");
    const wrap = (t: string, n: number) => t.replace(new RegExp(`(.{${n}})`, "g"), "$1\n");
    const outputs = {
      rev: file.split("\n").map((l) => [...l].reverse().join("")).join("\n"),
      base64: `${wrap(b64, 76)}\n`,
      "base64 -w0": b64,
      "xxd -p": `${wrap(Buffer.from(file).toString("hex"), 60)}\n`,
    };
    /** The part of each encoding that only the secret's bytes determine. */
    const secretOnly = (secret: string) => {
      const a = file.indexOf(secret);
      const b = a + secret.length;
      return {
        rev: [...secret].reverse().join(""),
        base64: b64.slice(Math.ceil(a / 3) * 4, Math.floor(b / 3) * 4),
        hex: Buffer.from(file).toString("hex").slice(2 * Buffer.byteLength(file.slice(0, a)), 2 * Buffer.byteLength(file.slice(0, b))),
      };
    };
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(outputs)), fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 8 }), (kind, sizes) => {
        const text = outputs[kind as keyof typeof outputs];
        const pieces: string[] = [];
        for (let k = 0, off = 0; off < text.length; k++) {
          pieces.push(text.slice(off, off + sizes[k % sizes.length]!));
          off += sizes[k % sizes.length]!;
        }
        const flat = through(pieces).out.replace(/\n/g, "");
        for (const secret of SECRETS) {
          const forms = secretOnly(secret);
          const form = kind === "rev" ? forms.rev : kind.startsWith("base64") ? forms.base64 : forms.hex;
          if (form.length >= 8) expect(flat, `${kind}: ${secret}`).not.toContain(form);
        }
      }),
      { numRuns: 120 },
    );
  });

  it("passes bytes no detector matches through exactly, even when they are not UTF-8", () => {
    const binary = Uint8Array.from({ length: 5000 }, (_, i) => ((i * 7919) % 256) | (i % 3 === 0 ? 0x80 : 0));
    const { w } = window();
    const out = Buffer.concat([w.push(binary.subarray(0, 1234)), w.push(binary.subarray(1234)), w.end()]);
    expect(new Uint8Array(out)).toEqual(binary);
  });

  it("with every built-in shape, ordinary shell output is released at once", () => {
    const masker = createMasker(loadWasmModule("mask"), { rules: [{ name: "all", detectors: ["all"], style: "redact" }] } as MaskingConfig);
    const w = new StreamWindow(masker, { shapes: allBuiltinShapes() });
    for (const line of ["total 12\n", "drwxr-xr-x 2 root root 4096 Jan  1 00:00 .\n", "root@web-1:/srv# ", "Continue? [y/N] ", "> "]) {
      expect(dec.decode(w.push(enc.encode(line)))).toBe(line);
    }
  });
});
