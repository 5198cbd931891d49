import { describe, expect, it } from "vitest";
import { concat, cstring, encodeParse, message, readCString } from "../codec/codec.ts";
import type { Decision } from "../../../parsers/policy/types.ts";
import { approvalBinding, HeldPrepared, MAX_HELD_STATEMENTS, readBind, type BoundParameter } from "./held-prepared.ts";

const decision: Decision = { effect: "approve", rule: "r", reason: "held", matched: [] };
const enc = new TextEncoder();

function bindBody(portal: string, statement: string, params: Array<string | null>, formats: number[] = []): Uint8Array {
  const parts: Uint8Array[] = [cstring(portal), cstring(statement)];
  const head = new Uint8Array(2 + formats.length * 2 + 2);
  const v = new DataView(head.buffer);
  v.setInt16(0, formats.length);
  formats.forEach((f, i) => v.setInt16(2 + i * 2, f));
  v.setInt16(2 + formats.length * 2, params.length);
  parts.push(head);
  for (const p of params) {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setInt32(0, p === null ? -1 : enc.encode(p).length);
    parts.push(len);
    if (p !== null) parts.push(enc.encode(p));
  }
  parts.push(new Uint8Array([0, 0]));
  return concat(parts);
}

const nameOf = (msg: Uint8Array, offset = 5) => readCString(msg, offset)[0];

describe("HeldPrepared", () => {
  it("forwards a held Parse under a private name, keeping its parameter types", () => {
    const held = new HeldPrepared();
    const parse = encodeParse("ins", "insert into t values ($1)", [23]);
    const out = held.parse("ins", parse.subarray(5), "insert into t values ($1)", decision);
    const privateName = nameOf(out);
    expect(privateName).toMatch(/^gatehouse_held_[0-9a-f]{24}_\d+$/);
    expect(out.subarray(5 + enc.encode(privateName).length + 1)).toEqual(parse.subarray(5 + 4));
    expect(held.statement("ins")?.serverName).toBe(privateName);
    held.forget("ins");
    expect(held.statement("ins")).toBeUndefined();
  });

  it("lets an approved Bind run once, holds every further Execute, and renames portal messages", () => {
    const held = new HeldPrepared();
    held.parse("s", encodeParse("s", "delete from t where id = $1").subarray(5), "delete from t where id = $1", decision);
    const body = bindBody("p", "s", ["7"]);
    const bound = held.approvedBind(readBind(body), body, held.statement("s")!);
    const serverPortal = nameOf(bound);
    expect(serverPortal).not.toBe("p");
    expect(nameOf(bound, 5 + serverPortal.length + 1)).toBe(held.statement("s")!.serverName);
    expect(held.execute("p")).toEqual({ kind: "run", serverPortal });
    expect(held.execute("p")).toMatchObject({ kind: "hold", serverPortal, sql: "delete from t where id = $1" });
    expect(held.execute("other")).toEqual({ kind: "direct" });
    expect(nameOf(held.renamed("D", "P", "p")!, 6)).toBe(serverPortal);
    expect(nameOf(held.renamed("C", "P", "p")!, 6)).toBe(serverPortal);
    expect(held.execute("p")).toEqual({ kind: "direct" });
    expect(nameOf(HeldPrepared.renameExecute(message("E", concat([cstring("p"), new Uint8Array(4)])).subarray(5), "x"))).toBe("x");
  });

  it("binds the approval to text and every parameter's format, length and bytes", () => {
    const b = (params: BoundParameter[]) => Array.from(approvalBinding("select $1", params)).join(",");
    const text = (s: string | null): BoundParameter => ({ format: 0, value: s === null ? null : enc.encode(s) });
    const all = [b([text("1")]), b([text("2")]), b([text(null)]), b([text("")]), b([text("1"), text("")]), b([{ format: 1, value: enc.encode("1") }]), b([])];
    expect(new Set(all).size).toBe(all.length);
  });

  it("reads Bind parameters and refuses malformed ones", () => {
    const parts = readBind(bindBody("", "s", ["a", null], [0]));
    expect(parts.params.map((p) => (p.value === null ? null : new TextDecoder().decode(p.value)))).toEqual(["a", null]);
    expect(() => readBind(bindBody("", "s", ["a", "b"], [0, 0, 0]))).toThrow(/malformed/);
    expect(() => readBind(bindBody("", "s", ["a"]).subarray(0, 8))).toThrow(/malformed/);
  });

  it("bounds the held statements of a session", () => {
    const held = new HeldPrepared();
    const body = encodeParse("x", "insert into t values (1)").subarray(5);
    for (let i = 0; i < MAX_HELD_STATEMENTS; i++) held.parse(`s${i}`, body, "insert into t values (1)", decision);
    expect(() => held.parse("one-more", body, "insert into t values (1)", decision)).toThrow(/close some/);
    held.parse("s0", body, "insert into t values (1)", decision); // re-using a name is fine
    held.renamed("C", "S", "s1");
    held.parse("one-more", body, "insert into t values (1)", decision);
  });
});
