import { describe, expect, it } from "vitest";
import { nextSteps, shellQuote, type NextStepsInput } from "./next-steps.ts";

const base: NextStepsInput = {
  gatewayUrl: "http://127.0.0.1:8787",
  defaultGatewayUrl: "http://127.0.0.1:8787",
  home: "/repo/.gatehouse",
  defaultHome: "/repo/.gatehouse",
  stateDir: "/root/.local/state/gatehouse",
  defaultStateDir: "/root/.local/state/gatehouse",
  resources: ["demo-pg"],
  pgResource: "demo-pg",
  pgListenPort: 5433,
  sshListenPort: 2222,
  binDir: "/repo/bin",
};

describe("npm start's next steps", () => {
  it("on the defaults, prints no extra variables and the exact password file", () => {
    const out = nextSteps(base);
    expect(out).not.toContain("GATEHOUSE_HOME");
    expect(out).not.toContain("GATEHOUSE_URL");
    expect(out).toContain("export PGPASSFILE=/root/.local/state/gatehouse/listeners/demo-pg-5433/pgpass\n");
    expect(out).toContain('psql "postgresql://alice@127.0.0.1:5433/demo-pg?sslmode=disable"');
    expect(out).not.toContain("demo-ssh");
  });

  it("runs this checkout's CLI from PATH, never a bare npx name (that resolves to someone else's package)", () => {
    const out = nextSteps({ ...base, resources: ["demo-pg", "demo-ssh"] });
    expect(out).toContain('  export PATH=/repo/bin:"$PATH"\n');
    expect(out).toContain("  export GATEHOUSE_TOKEN=$(gatehouse dev token --sub alice)\n");
    expect(out).toContain("  gatehouse connect demo-pg --port 5433\n");
    expect(out).not.toMatch(/npx/);
  });

  it("names a non-default home, gateway and state directory, shell-quoted", () => {
    const out = nextSteps({ ...base, home: "/tmp/my home", gatewayUrl: "http://127.0.0.1:18787", stateDir: "/tmp/st", resources: ["demo-pg", "demo-ssh"] });
    expect(out).toContain("export GATEHOUSE_HOME='/tmp/my home'\n");
    expect(out).toContain("export GATEHOUSE_URL=http://127.0.0.1:18787\n");
    expect(out).toContain("export GATEHOUSE_STATE_DIR=/tmp/st\n");
    expect(out).toContain("export PGPASSFILE=/tmp/st/listeners/demo-pg-5433/pgpass\n");
    // The SSH terminal gets the same variables.
    expect(out.split("export GATEHOUSE_HOME=").length - 1).toBe(2);
    expect(out).toContain("  gatehouse exec demo-ssh -- uname -a");
  });

  it("quotes what the shell would split or expand", () => {
    expect(shellQuote("/a/b-c_d.e")).toBe("/a/b-c_d.e");
    expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
  });
});
