import { describe, expect, it } from "vitest";
import { loadPolicy } from "../../../../parsers/policy/index.ts";
import { parseCommandLine } from "./parse.ts";
import { ANALYSED_WRAPPERS } from "./wrapper-table.ts";
import { UNANALYSED_RUNNERS } from "./wrappers.ts";

const POLICY = `
version: 1
rules:
  - { name: all, effect: allow, subjects: any, resources: any, actions: [connect, ssh.exec] }
  - { name: no-rm-r, effect: deny, subjects: any, resources: any, actions: [{ ssh: { command: rm, flags: [recursive] } }] }
`;

describe("the table of programs that run other programs", async () => {
  const loaded = await loadPolicy(POLICY, "p.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const decide = (line: string) => loaded.policy.decideSsh({ identity: { issuer: "i", subject: "s", claims: {} }, resource: { name: "h", type: "ssh", labels: {} }, request: { kind: "exec", line: parseCommandLine(line) } });

  it("every documented example hiding `rm -rf /x` is refused by a rule on rm recursive", () => {
    for (const w of ANALYSED_WRAPPERS) {
      const d = decide(w.example);
      expect(d.effect, w.example).toBe("deny");
      expect(d.rule, w.example).toBe("no-rm-r");
    }
  });

  it("every unanalysed runner, however invoked, is refused where a deny rule applies and allowed by plain ssh.exec nowhere", () => {
    for (const name of UNANALYSED_RUNNERS) {
      expect(decide(`${name} --some-option value`).effect, name).toBe("deny");
      const cmd = parseCommandLine(`${name} x`).commands[0]!;
      expect(cmd.hidden, name).toBeTruthy();
    }
  });

  it("programs that never run others do not turn their arguments into commands", () => {
    expect(decide("grep -r rm .").effect).toBe("allow");
    expect(decide("echo rm -rf /x").effect).toBe("allow");
    expect(decide("frobnicate rm -rf /x").effect).toBe("deny"); // an unknown wrapper
  });
});
