/**
 * Policy load errors. Loading never throws for a bad policy: it returns every problem found, each
 * pointing at the file, line and column of the offending YAML node, so an operator can fix them all
 * in one pass and an invalid policy is never half-applied.
 */
export interface PolicyError {
  /** The source name given to loadPolicy (usually the file path). */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
  message: string;
}

/** `file:line:col: message` — the format compilers use, so editors and CI logs can link to it. */
export function formatPolicyError(error: PolicyError): string {
  return `${error.file}:${error.line}:${error.column}: ${error.message}`;
}

/** Every error on its own line, in file order. */
export function formatPolicyErrors(errors: readonly PolicyError[]): string {
  return errors.map(formatPolicyError).join("\n");
}

/** Thrown by the compile helpers when a glob or duration is malformed; converted to a PolicyError with a position. */
export class PolicySyntaxError extends Error {
  override name = "PolicySyntaxError";
}
