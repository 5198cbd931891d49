import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createMasker, type MaskingConfig } from "./mask.ts";
import { loadWasmModule } from "./node.ts";
import { ReferenceMasker } from "../../parsers/masking/reference.ts";
import * as f from "../../parsers/masking/fixtures.ts";

const encoder = new TextEncoder();
const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

const CONFIG: MaskingConfig = {
  rules: [
    { name: "pii", columns: ["public.customers.email", "*.card_*", "u*"], style: "partial" },
    { name: "secret", columns: ["*password*", "billing.*.token"], style: "redact" },
    { name: "det", detectors: ["all"], style: "redact" },
  ],
};

describe("masker ruleFor (catalogue lookups, encoded straight into the scratch area)", () => {
  it("gives the reference's rule for any column and table name, also after the WASM memory grew", () => {
    const masker = createMasker(loadWasmModule("mask"), CONFIG);
    const ref = new ReferenceMasker(CONFIG);
    const name = fc.stringMatching(/^[a-zü_.*é]{0,12}$/);
    const check = (column: string, table: string | undefined): void => {
      expect(masker.ruleFor(column, table)).toBe(ref.ruleForColumn(latin1(encoder.encode(column)), table ? latin1(encoder.encode(table)) : null));
    };
    fc.assert(fc.property(name, fc.option(name, { nil: undefined }), (column, table) => { check(column, table); }), { numRuns: 300 });
    // A batch larger than the initial memory makes process() grow it: lookups keep working.
    const rows = [f.rowDescription([{ name: "note" }])];
    for (let i = 0; i < 4000; i++) rows.push(f.dataRow([`row ${i} ${"x".repeat(1000)}`]));
    masker.process(f.concat(rows));
    for (const [column, table] of [["email", "public.customers"], ["card_no", "x.y"], ["user", undefined], ["token", "billing.acct"], ["password_hash", undefined], ["name", "public.customers"]] as const) {
      check(column, table);
    }
    expect(masker.ruleFor("email", "public.customers")).toBe(0);
  });
});
