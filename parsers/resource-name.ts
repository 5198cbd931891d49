/**
 * THE resource-name rule, for every deployable: the connector's configuration, the worker's routes
 * and connector hub, the CLI. Names travel in URL paths (/v1/tunnel/<name>), audit events, policy
 * matches and file names, so they keep to one safe alphabet and one length everywhere — a name one
 * component accepts and another refuses would be a resource nobody can reach (or two spellings of one).
 */

export const RESOURCE_NAME_MAX_LENGTH = 63;

/** Letters, digits, `.`, `_`, `-`; starts with a letter or digit (never `.`/`..`, never an option-like `-x`). */
export const RESOURCE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The rule in words, for error messages. */
export const RESOURCE_NAME_RULE = `letters, digits, . _ - (max ${RESOURCE_NAME_MAX_LENGTH}), starting with a letter or digit`;

export function isResourceName(name: unknown): name is string {
  return typeof name === "string" && RESOURCE_NAME_PATTERN.test(name);
}
