/**
 * An in-process MySQL gateway for end-to-end tests of the MySQL protocol module without workerd:
 *
 *   mariadb / mysql2 ──TCP──▶ local listener (protocols/mysql/client/listener.ts, per-listener password)
 *     ──▶ MysqlEngineCore (policy from a real policy YAML, masking, approvals, recording)
 *     ──▶ connector login (protocols/mysql/connector/login.ts, the access level's credential) ──▶ MariaDB
 *
 * Every piece is the product's; only the tunnel hops (client ⇄ worker ⇄ connector WebSockets)
 * are replaced by function calls. The worker engine adapter that puts MysqlEngineCore behind the
 * Engine interface is the part this harness does not cover (docs/MYSQL.md §Status).
 */
import { loadPolicy, type CompiledPolicy } from "../../parsers/policy/index.ts";
import { formatPolicyErrors } from "../../parsers/policy/errors.ts";
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import type { MaskingRule } from "../../parsers/masking/config.ts";
import { startMysqlListener, type MysqlListener } from "../../protocols/mysql/client/listener.ts";
import { mysqlLogin } from "../../protocols/mysql/connector/login.ts";
import { MysqlEngineCore, type MaskingDerived, type MysqlEngineEvent, type Verdict } from "../../protocols/mysql/worker/engine-core.ts";
import { RowMasker } from "../../protocols/mysql/worker/row-masker.ts";
import { createMasker } from "../../wasm/loader/mask.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import type { MysqlStatement } from "../../protocols/mysql/sql/classify.ts";
import type { RunningMariaDb } from "./mariadb.ts";

export interface MysqlGateway {
  port: number;
  password: string;
  /** What the engine recorded, `masking.derived` events among them (as the worker engine records them in the trail). */
  events: (MysqlEngineEvent | ({ type: "masking.derived" } & MaskingDerived))[];
  /** Approval requests waiting for a verdict (text → resolve). */
  approvals: { sql: string; resolve(ok: boolean): void }[];
  /** Access level the connector logged in with (last session). */
  levels: string[];
  close(): Promise<void>;
}

export async function startMysqlGateway(db: RunningMariaDb, opts: { policy: string; masking?: MaskingRule[]; identity?: Identity; allowLocalInfile?: boolean }): Promise<MysqlGateway> {
  const loaded = await loadPolicy(opts.policy, "policy.yaml");
  if (!loaded.ok) throw new Error(formatPolicyErrors(loaded.errors));
  const policy: CompiledPolicy = loaded.policy;
  const identity: Identity = opts.identity ?? { issuer: "http://127.0.0.1:8788", subject: "ci-bot", claims: { iss: "http://127.0.0.1:8788", sub: "ci-bot", groups: [] } };
  const resource: ResourceInfo = { name: "demo-mysql", type: "mysql", labels: { env: "test" } };
  const probe = await mysqlLogin({ host: db.host, port: db.port, user: db.levels.read.user, password: db.levels.read.password });
  probe.socket.destroy();
  const events: MysqlGateway["events"] = [];
  const approvals: MysqlGateway["approvals"] = [];
  const levels: string[] = [];
  const password = "listener-" + Math.random().toString(36).slice(2);
  const listener: MysqlListener = await startMysqlListener({
    password,
    backend: {
      greeting: () => ({ serverVersion: probe.handshake.serverVersion, capabilities: probe.handshake.capabilities }),
      async open(client, toClient, end) {
        if (policy.decideConnect({ identity, resource, activeGrants: [] }).effect !== "allow") throw new Error("connect denied by policy");
        const level = policy.sqlAccessLevel({ identity, resource, activeGrants: [] });
        levels.push(level);
        const cred = db.levels[level as "read" | "write" | "admin"];
        // The policy's statement timeout, set by the connector as the server's own (as the worker's open does).
        const statementTimeoutMs = policy.sessionLimits(identity, resource).statementTimeoutMs;
        const s = await mysqlLogin({ host: db.host, port: db.port, user: cred.user, password: cred.password, database: client.database ?? db.database, capabilities: client.capabilities, collation: client.collation, readOnly: level === "read", statementTimeoutMs });
        const core = new MysqlEngineCore(
          {
            sendToClient: (b) => toClient(b),
            sendToServer: (b) => s.socket.write(b),
            decide(statements: MysqlStatement[]): Verdict {
              const d = policy.decideSql({ identity, resource, statements, activeGrants: [] });
              if (d.effect === "allow") return { effect: "allow" };
              return { effect: d.effect, reason: d.reason ?? `rule ${d.rule ?? "(none)"}` };
            },
            approve(sql: string) {
              return new Promise<boolean>((resolve) => approvals.push({ sql, resolve }));
            },
            record: (e) => void events.push(e),
            recordDerived: async (e) => void events.push({ type: "masking.derived", ...e }),
            end: () => {
              s.socket.end();
              end();
            },
          },
          { capabilities: s.capabilities, serverVersion: s.handshake.serverVersion, pinned: s.pinned, masker: opts.masking ? new RowMasker(createMasker(loadWasmModule("mask"), { rules: opts.masking }), { rules: opts.masking }) : null, allowLocalInfile: opts.allowLocalInfile, readOnly: level === "read", statementTimeoutMs },
        );
        s.socket.on("data", (b: Buffer) => core.onServerData(new Uint8Array(b)));
        s.socket.on("close", () => end());
        return {
          write: (b) => void core.onClientData(b),
          close: () => s.socket.destroy(),
        };
      },
    },
  });
  return { port: listener.port, password, events, approvals, levels, close: () => listener.close() };
}
