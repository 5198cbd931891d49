/**
 * What `npm start` prints under its banner: the walkthrough's next commands, exact for this
 * stack's ports, GATEHOUSE_HOME and listener state directory, so they can be pasted as they are.
 */
import path from "node:path";

export interface NextStepsInput {
  gatewayUrl: string;
  /** The URL the CLI uses when GATEHOUSE_URL is unset. */
  defaultGatewayUrl: string;
  /** The stack's GATEHOUSE_HOME (absolute) and where the CLI would look without the variable. */
  home: string;
  defaultHome: string;
  /** `gatehouse connect`'s state directory (listener password files live below). */
  stateDir: string;
  /** Default state directory (without GATEHOUSE_STATE_DIR). */
  defaultStateDir: string;
  resources: string[];
  pgResource: string;
  pgListenPort: number;
  sshListenPort: number;
  /** Port suggested for the demo-mysql listener (default 3307: 3306 is often a local MariaDB's). */
  mysqlListenPort?: number;
  /** This checkout's bin/ (the `gatehouse` run from source); default: the repo's. */
  binDir?: string;
}

const REPO_BIN = path.resolve(import.meta.dirname, "../../bin");

/** POSIX shell quoting, only where needed. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function nextSteps(s: NextStepsInput): string {
  const env: string[] = [];
  if (path.resolve(s.home) !== path.resolve(s.defaultHome)) env.push(`export GATEHOUSE_HOME=${shellQuote(s.home)}`);
  if (s.gatewayUrl !== s.defaultGatewayUrl) env.push(`export GATEHOUSE_URL=${shellQuote(s.gatewayUrl)}`);
  if (s.stateDir !== s.defaultStateDir) env.push(`export GATEHOUSE_STATE_DIR=${shellQuote(s.stateDir)}`);
  // This checkout's CLI first on PATH: never `gatehouse`, which outside the repo resolves to
  // an unrelated public package (issue 20).
  env.unshift(`export PATH=${shellQuote(s.binDir ?? REPO_BIN)}:"$PATH"`);
  const pgpass = path.join(s.stateDir, "listeners", `${s.pgResource}-${s.pgListenPort}`, "pgpass");
  const url = `postgresql://alice@127.0.0.1:${s.pgListenPort}/${s.pgResource}?sslmode=disable`;
  const lines = [
    "In another terminal (the listener renews its development token while it runs):",
    ...env.map((l) => `  ${l}`),
    "  export GATEHOUSE_TOKEN=$(gatehouse dev token --sub alice)",
    `  gatehouse connect ${s.pgResource} --port ${s.pgListenPort}`,
    "",
    "And in a third (only your OS user can use the listener: its password is in a 0600 file):",
    `  export PGPASSFILE=${shellQuote(pgpass)}`,
    `  psql "${url}" -c "select * from customers limit 5"`,
  ];
  if (s.resources.includes("demo-ssh")) {
    lines.push(
      "",
      "SSH (demo-ssh: the connector holds the host's key and pins its host key), with the same variables:",
      ...env.map((l) => `  ${l}`),
      "  export GATEHOUSE_TOKEN=$(gatehouse dev token --sub alice)",
      "  gatehouse exec demo-ssh -- uname -a",
      `  gatehouse connect demo-ssh --port ${s.sshListenPort}     # then plain ssh/scp/sftp with the key it prints`,
    );
  }
  if (s.resources.includes("demo-mysql")) {
    const cnf = path.join(s.stateDir, "listeners", `demo-mysql-${s.mysqlListenPort ?? 3307}`, "my.cnf");
    lines.push(
      "",
      "MySQL (demo-mysql: a MariaDB with the same demo tables; the connector holds its accounts), with the same variables:",
      ...env.map((l) => `  ${l}`),
      "  export GATEHOUSE_TOKEN=$(gatehouse dev token --sub alice)",
      `  gatehouse connect demo-mysql --port ${s.mysqlListenPort ?? 3307}`,
      `  mariadb --defaults-extra-file=${shellQuote(cnf)} demo -e "select * from customers limit 5"`,
    );
  }
  return `${lines.join("\n")}\n`;
}
