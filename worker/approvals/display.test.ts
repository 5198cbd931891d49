import { describe, expect, it } from "vitest";
import { approvalDisplayText, literalSpans, parameterDisplay, visibleText } from "./display.ts";

/** A masker that redacts anything containing "secret" or a 16-digit run, like a detector would. */
const mask = (values: string[]) => values.map((v) => (/secret|\d{16}/.test(v) ? "[redacted]" : v));
const show = (sql: string, scs = true) => approvalDisplayText(sql, { standardConformingStrings: scs, maskValues: mask });

describe("approval display", () => {
  it("masks literal values only, keeping their delimiters and all structure", () => {
    expect(show("update t set a = 'my secret' where card = 4111111111111111")).toBe("update t set a = '[redacted]' where card = '[redacted]'");
    expect(show("select $q$secret$q$, 'plain', E'it\\'s secret', \"secret_column\" from secret_table")).toBe(
      "select $q$[redacted]$q$, 'plain', E'[redacted]', \"secret_column\" from secret_table",
    );
  });

  it("never lets a detector span swallow a second statement", () => {
    const sql = "select '-----BEGIN PRIVATE KEY----- secret'; delete from orders; select 'x -----END PRIVATE KEY-----'";
    const wide = (values: string[]) => values.map((v) => v.replace(/-----BEGIN[\s\S]*|[\s\S]*-----END PRIVATE KEY-----/, "[key]"));
    const shown = approvalDisplayText(sql, { standardConformingStrings: true, maskValues: wide });
    expect(shown).toContain("; delete from orders; ");
    expect(shown).toBe("select '[key]'; delete from orders; select '[key]'");
  });

  it("a DO or function body is code: only its own literals are masked", () => {
    const sql = "DO $$ BEGIN PERFORM 'my secret'; DELETE FROM orders; END $$; select $$a secret value$$";
    expect(show(sql)).toBe("DO $$ BEGIN PERFORM '[redacted]'; DELETE FROM orders; END $$; select $$[redacted]$$");
    expect(show("create function f() returns int language sql as $f$ select 4111111111111111 $f$")).toBe("create function f() returns int language sql as $f$ select '[redacted]' $f$");
    const everything = (values: string[]) => values.map(() => "[all]");
    expect(approvalDisplayText("do language plpgsql $$ begin delete from t; end $$", { standardConformingStrings: true, maskValues: everything })).toBe("do language plpgsql $$ begin delete from t; end $$");
  });

  it("a masked value with quotes cannot end its literal early", () => {
    const evil = (values: string[]) => values.map((v) => (v === "a" ? "x'; drop table t; --" : v));
    expect(approvalDisplayText("select 'a'", { standardConformingStrings: true, maskValues: evil })).toBe("select 'x; drop table t; --'");
  });

  it("comments and quoted text in comments do not start literals", () => {
    expect(literalSpans("select 1 -- it's 'secret'\n, 'b' /* 'c' /* nested 'd' */ 'e' */ , 'f'", true).length).toBe(3);
    expect(show("select 1 -- my secret\n")).toBe("select 1 -- my secret\n");
  });

  it("reads backslash escapes as the server does (standard_conforming_strings off)", () => {
    // With backslash escapes the literal is 'a\' b' and "secret" is outside it… only when scs is off.
    expect(show("select 'a\\' secret'", false)).toBe("select '[redacted]'");
    expect(show("select 'a\\', 'secret'", true)).toBe("select 'a\\', '[redacted]'");
  });

  it("shows every line break the server sees, and makes invisible characters visible", () => {
    // PostgreSQL ends a -- comment at \r: the DELETE runs, so it must not look commented out.
    expect(visibleText("select 1 -- note\rdelete from orders")).toBe("select 1 -- note\ndelete from orders");
    expect(visibleText("a\r\nb")).toBe("a\nb");
    expect(visibleText("x\u001b[8mhidden\u202e\u200b\u2028")).toBe("x<U+001B>[8mhidden<U+202E><U+200B><U+2028>");
    expect(show("select 1 -- note\rdelete from orders")).toBe("select 1 -- note\ndelete from orders");
  });

  it("shows parameters quoted, masked, one per line", () => {
    expect(parameterDisplay(null, mask)).toBe("NULL");
    expect(parameterDisplay("it's", mask)).toBe("'it''s'");
    expect(parameterDisplay("top secret", mask)).toBe("'[redacted]'");
    expect(parameterDisplay("a\n$2 = 'b'", undefined)).toBe("'a<U+000A>$2 = ''b'''");
  });
});
