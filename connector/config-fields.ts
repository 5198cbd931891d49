/**
 * Small validators for configuration objects. Each names the field it rejects, so an operator
 * sees `resources[1].port: must be an integer 1..65535` rather than a stack trace.
 */
import { ConfigError } from "./errors.ts";

export type RawObject = Record<string, unknown>;

export function expectObject(field: string, value: unknown): RawObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(field, "must be a mapping");
  return value as RawObject;
}

/** Refuse unknown keys: a typo (`pasword:`) must not silently fall back to a default. */
export function expectOnlyKeys(field: string, obj: RawObject, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new ConfigError(field ? `${field}.${key}` : key, `unknown field (expected one of: ${allowed.join(", ")})`);
  }
}

export function expectString(field: string, value: unknown, opts: { pattern?: RegExp; patternHint?: string; maxLength?: number } = {}): string {
  if (typeof value !== "string" || value.length === 0) throw new ConfigError(field, value === undefined ? "is required" : "must be a non-empty string");
  if (value.length > (opts.maxLength ?? 255)) throw new ConfigError(field, `must be at most ${opts.maxLength ?? 255} characters`);
  if (opts.pattern && !opts.pattern.test(value)) throw new ConfigError(field, opts.patternHint ?? `has an invalid format`);
  return value;
}

export function expectPort(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) throw new ConfigError(field, "must be an integer 1..65535");
  return value;
}

export function expectOneOf<T extends string>(field: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== "string" || !choices.includes(value as T)) throw new ConfigError(field, `must be one of: ${choices.join(", ")}`);
  return value as T;
}

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._\/-]{0,62}$/;

export function expectLabels(field: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  const obj = expectObject(field, value);
  const labels: Record<string, string> = {};
  const keys = Object.keys(obj);
  if (keys.length > 64) throw new ConfigError(field, "at most 64 labels");
  for (const key of keys) {
    if (!LABEL_KEY.test(key)) throw new ConfigError(`${field}.${key}`, "label names use letters, digits, . _ / - (max 63)");
    const v = obj[key];
    if (typeof v === "number" || typeof v === "boolean") labels[key] = String(v);
    else if (typeof v === "string" && v.length <= 255) labels[key] = v;
    else throw new ConfigError(`${field}.${key}`, "label values are strings of at most 255 characters");
  }
  return labels;
}
