/** A verified identity: what the worker knows about whoever opened a session after checking the OIDC token. */
export interface Identity {
  /** `iss` of the verified token. */
  issuer: string;
  /** `sub` of the verified token. */
  subject: string;
  /** Every claim of the verified token (including iss/sub/aud/exp). */
  claims: Record<string, unknown>;
}

/** A resource as advertised by a connector. */
export interface ResourceInfo {
  name: string;
  type: "postgres" | "ssh" | "http" | string;
  labels: Record<string, string>;
}
