/**
 * One contract, two workers: the connector-facing handshakes and frames (worker-contract.ts) hold
 * for the real worker (wrangler dev, with the demo policy; the test is the connector "local") and
 * for the fake the connector tests run against (harness-worker.ts). A fake that answers
 * differently from the real worker fails here, not silently in the tests that trust it.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { importJWK, type CryptoKey } from "jose";
import { WebSocket } from "ws";
import { generateConnectorKeyPair } from "../../connector/keys.ts";
import { TUNNEL_SUBPROTOCOL } from "../../parsers/tunnel/frames.ts";
import { startTestStack } from "../harness/stack.ts";
import { startHarnessWorker, type HarnessPeer } from "./harness-worker.ts";
import { describeWorkerContract, startupMessage, type WorkerUnderTest } from "./worker-contract.ts";

const DEMO_PG = { name: "demo-pg", type: "postgres", labels: { env: "demo", owner: "gatehouse" } };

describeWorkerContract("the fake worker (test/connector/harness-worker.ts)", async (): Promise<WorkerUnderTest> => {
  const { privateJwk, publicJwk } = await generateConnectorKeyPair();
  const fake = await startHarnessWorker({ connectors: { "contract-connector": publicJwk } });
  return {
    url: fake.url,
    connectorId: "contract-connector",
    privateKey: (await importJWK(privateJwk, "EdDSA")) as CryptoKey,
    resource: DEMO_PG,
    async requestSession() {
      // the newest control channel that said hello (earlier cases opened others)
      let latest: HarnessPeer = (await fake.controls.next()).peer;
      while (fake.controls.pending.length > 0) latest = (await fake.controls.next()).peer;
      void fake.openStream(latest, DEMO_PG.name, { application_name: "contract" }).catch(() => undefined);
    },
    stop: () => fake.stop(),
  };
});

describeWorkerContract("the real worker (wrangler dev)", async (): Promise<WorkerUnderTest> => {
  // No connector and no database: the test is the connector "local" (the stack trusts its key).
  const stack = await startTestStack({ connector: false, pg: { host: "127.0.0.1", port: 1, database: "demo", user: "nobody", password: "unused" } });
  const jwk = JSON.parse(await readFile(path.join(stack.home, "connector", "local-key.json"), "utf8")) as Record<string, unknown>;
  const clients: WebSocket[] = [];
  return {
    url: stack.gatewayUrl,
    connectorId: stack.stack.connector.id,
    privateKey: (await importJWK({ ...jwk, alg: undefined }, "EdDSA")) as CryptoKey,
    resource: DEMO_PG,
    async requestSession() {
      // As the CLI does: a tunnel with alice's token (the demo policy lets her connect), then the StartupMessage.
      const token = await stack.mintToken({ sub: "alice" });
      const client = new WebSocket(`${stack.gatewayUrl.replace(/^http/, "ws")}/v1/tunnel/${DEMO_PG.name}`, [TUNNEL_SUBPROTOCOL], {
        headers: { authorization: `Bearer ${token}` },
        perMessageDeflate: false,
      });
      clients.push(client);
      if (process.env.CONTRACT_DEBUG) client.on("message", (m: Buffer) => process.stderr.write(`[client] ${m.toString("utf8")}\n`));
      await new Promise<void>((resolve, reject) => {
        client.once("open", () => resolve());
        client.once("error", reject);
        client.once("unexpected-response", (_req, res) => reject(new Error(`tunnel refused: ${res.statusCode}`)));
      });
      client.send(startupMessage({ user: "alice", database: DEMO_PG.name, application_name: "contract" }));
    },
    async stop() {
      for (const c of clients) c.terminate();
      await stack.stop();
    },
  };
});
