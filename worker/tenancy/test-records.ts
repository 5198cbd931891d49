/**
 * A minimal hosted tenant's record for the registry tests (lifecycle steps, object Env refresh):
 * one issuer at `https://idp.example` with the audience `gatehouse-<name>`, an empty policy, no
 * limits. `extra` adds or replaces fields (shards, sealed secrets …).
 */
import type { TenantRecord } from "./tenant-record.ts";

export function testTenantRecord(name: string, createdBy: string, extra: Partial<TenantRecord> = {}): TenantRecord {
  return {
    name,
    issuers: JSON.stringify([{ issuer: "https://idp.example", audiences: [`gatehouse-${name}`] }]),
    connectors: "[]",
    policy: "version: 1\nrules: []\n",
    policySource: "policy.yaml",
    maskingKey: "k".repeat(32),
    auditKeys: null,
    export: null,
    limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null },
    createdAt: Date.now(),
    createdBy,
    ...extra,
  };
}
