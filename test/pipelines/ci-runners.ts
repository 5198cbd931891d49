/**
 * Simulated CI runners for the pipeline integrations: an OIDC issuer that signs tokens with
 * GitHub's and GitLab's claim sets (RS256, as they do) and serves GitHub's token-request endpoint
 * (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`). The worker trusts it under
 * the real issuer names with an inline JWK set, so the example policies' `github:`/`gitlab:`
 * matchers decide exactly as they would in production.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, type JWK, type CryptoKey } from "jose";

export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
export const GITLAB_ISSUER = "https://gitlab.com";

export interface CiIssuer {
  /** GATEHOUSE_ISSUERS entries trusting this signer as GitHub and as GitLab. */
  issuersConfig(): string;
  githubToken(claims: Record<string, unknown>, audience?: string): Promise<string>;
  gitlabToken(claims: Record<string, unknown>, audience?: string): Promise<string>;
  /** GitHub's runtime token endpoint: hands out a GitHub token with these claims for the requested audience. */
  serveGithubTokenEndpoint(claims: Record<string, unknown>): Promise<{ requestUrl: string; requestToken: string; requests: () => number; close(): Promise<void> }>;
}

export async function createCiIssuer(): Promise<CiIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "ci-test", alg: "RS256", use: "sig" };
  const sign = (key: CryptoKey, iss: string, claims: Record<string, unknown>, aud: string) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "RS256", kid: "ci-test", typ: "JWT" })
      .setIssuer(iss)
      .setAudience(aud)
      .setIssuedAt()
      .setNotBefore("0s")
      .setExpirationTime("10m")
      .setJti(randomBytes(8).toString("hex"))
      .sign(key);
  return {
    issuersConfig: () =>
      JSON.stringify(
        [GITHUB_ISSUER, GITLAB_ISSUER].map((issuer) => ({ issuer, jwks: { keys: [jwk] }, audiences: ["gatehouse"], algorithms: ["RS256"], max_token_lifetime_seconds: 3600, clock_skew_seconds: 30 })),
      ),
    githubToken: (claims, audience = "gatehouse") => sign(privateKey, GITHUB_ISSUER, claims, audience),
    gitlabToken: (claims, audience = "gatehouse") => sign(privateKey, GITLAB_ISSUER, claims, audience),
    async serveGithubTokenEndpoint(claims) {
      const requestToken = randomBytes(16).toString("hex");
      let count = 0;
      const server: Server = createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://x");
        // GitHub's shape: GET <request url>&audience=<aud>, Authorization: bearer <request token> → {"value": jwt}.
        if (req.headers.authorization !== `bearer ${requestToken}` && req.headers.authorization !== `Bearer ${requestToken}`) {
          res.writeHead(401).end();
          return;
        }
        count++;
        void sign(privateKey, GITHUB_ISSUER, claims, url.searchParams.get("audience") ?? "").then((value) => {
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ count: 1, value }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      return {
        requestUrl: `http://127.0.0.1:${port}/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0`,
        requestToken,
        requests: () => count,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
    },
  };
}

/** GitHub's claim set for a job (names and formats as GitHub documents them). */
export function githubClaims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const repository = (over.repository as string | undefined) ?? "acme/api";
  const ref = (over.ref as string | undefined) ?? "refs/heads/main";
  const environment = (over.environment as string | undefined) ?? "production";
  return {
    sub: `repo:${repository}:environment:${environment}`,
    repository,
    repository_owner: repository.split("/")[0],
    repository_owner_id: "1342004",
    repository_id: "77001",
    repository_visibility: "private",
    ref,
    ref_type: "branch",
    ref_protected: "true",
    environment,
    workflow: "deploy",
    workflow_ref: `${repository}/.github/workflows/deploy.yml@${ref}`,
    job_workflow_ref: `${repository}/.github/workflows/deploy.yml@${ref}`,
    event_name: "push",
    actor: "octocat",
    actor_id: "1",
    run_id: "9001",
    run_number: "42",
    run_attempt: "1",
    sha: "0123456789abcdef0123456789abcdef01234567",
    runner_environment: "github-hosted",
    ...over,
  };
}

/** GitLab's id_token claim set for a job. */
export function gitlabClaims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const project = (over.project_path as string | undefined) ?? "acme/api";
  return {
    sub: `project_path:${project}:ref_type:branch:ref:main`,
    namespace_id: "11",
    namespace_path: project.split("/")[0],
    project_id: "22",
    project_path: project,
    user_id: "33",
    user_login: "deployer",
    user_email: "deployer@acme.example",
    pipeline_id: "44",
    pipeline_source: "push",
    job_id: "55",
    ref: "main",
    ref_type: "branch",
    ref_path: "refs/heads/main",
    ref_protected: "true",
    environment: "production",
    environment_protected: "true",
    deployment_tier: "production",
    runner_id: 66,
    runner_environment: "gitlab-hosted",
    sha: "0123456789abcdef0123456789abcdef01234567",
    ...over,
  };
}
