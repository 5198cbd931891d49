/** Resource matchers: by name, by type, and by the labels the connector advertises. */
import type { ResourceInfo } from "../identity.ts";
import type { GlobSet } from "./glob.ts";

export interface LabelCondition {
  label: string;
  patterns: GlobSet;
}

/** All present conditions must hold (AND). */
export interface ResourceMatcher {
  name: GlobSet | null;
  type: GlobSet | null;
  labels: LabelCondition[];
}

export type ResourceSet = { any: true } | { any: false; matchers: ResourceMatcher[] };

export function resourceMatcherMatches(m: ResourceMatcher, resource: ResourceInfo): boolean {
  if (m.name && !m.name.matches(resource.name)) return false;
  if (m.type && !m.type.matches(resource.type)) return false;
  const labels = resource.labels;
  if (m.labels.length > 0 && (labels === null || typeof labels !== "object")) return false;
  for (const c of m.labels) {
    if (!Object.prototype.hasOwnProperty.call(labels, c.label)) return false;
    const value = labels[c.label];
    if (typeof value !== "string" || !c.patterns.matches(value)) return false;
  }
  return true;
}

export function resourceSetMatches(set: ResourceSet, resource: ResourceInfo): boolean {
  if (set.any) return true;
  return set.matchers.some((m) => resourceMatcherMatches(m, resource));
}
