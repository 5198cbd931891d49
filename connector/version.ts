/** Version reported by `gatehouse-connector --version`. Kept in step with package.json (client/cli-conventions.test.ts). */
export const CONNECTOR_VERSION = "0.1.0";
