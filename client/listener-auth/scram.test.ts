import { describe, expect, it } from "vitest";
import { ScramExchange, scramVerifier } from "./scram.ts";
import { scramClientFinal, scramClientFirst } from "../../test/support/scram-client.ts";

describe("SCRAM-SHA-256 server (listener side)", () => {
  const verifier = scramVerifier("listener-secret");

  it("accepts the right password and proves itself with the server signature", () => {
    const ex = new ScramExchange(verifier);
    const first = scramClientFirst();
    const serverFirst = ex.first(first.message);
    const final = scramClientFinal(first, serverFirst, "listener-secret");
    expect(ex.final(final.message)).toBe(final.expectedServerFinal);
  });

  it("refuses a wrong password, a replayed proof, a changed nonce and channel binding it cannot do", () => {
    const first = scramClientFirst();
    const a = new ScramExchange(verifier);
    const wrong = scramClientFinal(first, a.first(first.message), "listener-secreT");
    expect(() => a.final(wrong.message)).toThrow("wrong password");

    const b = new ScramExchange(verifier);
    const good = scramClientFinal(first, b.first(first.message), "listener-secret");
    // The same client-first in a new exchange gets a new server nonce: the old proof is worthless.
    const c = new ScramExchange(verifier);
    c.first(first.message);
    expect(() => c.final(good.message)).toThrow(/nonce mismatch/);
    expect(() => b.final(good.message.replace("c=biws", "c=eSws"))).toThrow(/channel binding mismatch/);
    expect(() => new ScramExchange(verifier).first(`p=tls-server-end-point,,n=,r=abc`)).toThrow(/channel binding is not available/);
    expect(() => new ScramExchange(verifier).first(`n,,m=ext,n=,r=abc`)).toThrow(/malformed/);
    expect(() => new ScramExchange(verifier).final("c=biws,r=x,p=AAAA")).toThrow(/malformed/);
  });
});
