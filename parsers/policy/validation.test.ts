import { describe, expect, it } from "vitest";
import { formatPolicyError, formatPolicyErrors } from "./errors.ts";
import { loadPolicy } from "./load.ts";
import { mustFail, mustLoad } from "./test-fixtures.ts";

/** A valid rule body to build broken variants from. */
const OK_RULE = `
    effect: allow
    subjects: any
    resources: [pg-prod]
    actions: [connect]`;

describe("policy validation", () => {
  it("reports file, line and column in the compiler format", async () => {
    const result = await loadPolicy("version: 1\nrules:\n  - name: r\n    efect: allow\n    subjects: any\n    resources: any\n    actions: [connect]\n", "policies/prod.yaml");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatPolicyError(result.errors[0]!)).toBe(
      "policies/prod.yaml:4:5: rule 'r': unknown key 'efect' (did you mean 'effect'?); expected one of name, description, effect, subjects, resources, actions, requires, approvers, required_approvals, timeout, limits",
    );
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ file: "policies/prod.yaml", line: 4, column: 5 });
    // The misspelt key is not reported a second time as "missing required key 'effect'".
    expect(result.errors.map((e) => e.message).join("\n")).not.toMatch(/missing required key 'effect'/);
  });

  it("reports every problem at once, in file order", async () => {
    const errors = await mustFail(`version: 1
rules:
  - name: first
    effect: alow
    subjects: any
    resources: [pg-prod]
    actions: [connect]
  - name: second
    effect: allow
    subjects: any
    resources: [pg-prod]
    actions: [sql.wirte]
    limits: { max_session: 30 }
`);
    expect(errors).toEqual([
      "4:13: rule 'first': effect must be one of allow, deny, approve, got 'alow' (did you mean 'allow'?)",
      "12:15: rule 'second': actions[0]: unknown SQL statement kind 'wirte' (did you mean 'sql.write'?); expected sql.* or sql.<kind> with kind one of read, write, ddl, privilege, procedural, transaction, session, copy_external, admin, execute, dynamic, unknown",
      "13:28: rule 'second': limits.max_session: duration '30' needs a unit (ms, s, m, h, d), e.g. '30s', '5m', '8h'",
    ]);
  });

  it("rejects unknown top-level keys and a missing or wrong version", async () => {
    expect(await mustFail(`rulez: []\n`)).toEqual([
      "1:1: policy: unknown key 'rulez' (did you mean 'rules'?); expected one of version, limits, roles, rules, masking, recording, notifications",
      "1:1: policy: missing required key 'version'",
    ]);
    expect(await mustFail(`version: 2\nrules: []\n`)).toEqual(["1:10: policy: 'version' must be 1 (the only policy format this Gatehouse understands)"]);
    expect(await mustFail(`version: "1"\nrules: []\n`)).toEqual(["1:10: policy: 'version' must be 1 (the only policy format this Gatehouse understands)"]);
  });

  it("rejects YAML syntax errors, duplicate keys, unknown tags and empty documents", async () => {
    const syntax = await mustFail(`version: 1\nrules:\n  - name: [unclosed\n`);
    expect(syntax[0]).toBe("4:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]");
    const dup = await mustFail(`version: 1\nrules:\n  - name: a\n    name: b\n${OK_RULE}\n`);
    expect(dup).toEqual(["4:5: YAML: Map keys must be unique"]);
    const tag = await mustFail(`version: 1\nrules: !custom []\n`);
    expect(tag[0]).toMatch(/^2:8: YAML: .*custom/);
    expect(await mustFail(``)).toEqual(["1:1: the policy document is empty"]);
    expect(await mustFail(`# only a comment\n`)).toEqual(["1:1: the policy document is empty"]);
    expect(await mustFail(`- a\n- b\n`)).toEqual(["1:1: the policy document must be a mapping (key: value), got a list"]);
    const two = await mustFail(`version: 1\nrules: []\n---\nversion: 1\nrules: []\n`);
    expect(two[0]).toMatch(/YAML: .*multiple documents/i);
  });

  it("rejects wrong types with what was found instead", async () => {
    expect(await mustFail(`version: 1\nrules:\n  name: x\n`)).toEqual(["3:3: 'rules' must be a list, got a mapping"]);
    expect(await mustFail(`version: 1\nrules:\n  - name: 42\n${OK_RULE}\n`)).toEqual(["3:11: rules[0].name must be a string, got the number 42"]);
    expect(await mustFail(`version: 1\nrules:\n  - name: x\n    effect: allow\n    subjects: 7\n    resources: any\n    actions: connect\n`)).toEqual([
      "5:15: rule 'x': subjects must be 'any', a subject matcher or a list of subject matchers, got '7'",
    ]);
    expect(await mustFail(`version: 1\nrules:\n  - name: x\n    effect: allow\n    subjects: any\n    resources: any\n    actions:\n`)).toEqual([
      "7:13: rule 'x': actions must be an action name (connect, sql.read, …) or { sql: {...} }, got nothing (null)",
    ]);
  });

  it("rejects unknown effects, missing keys and bad rule names", async () => {
    expect(await mustFail(`version: 1\nrules:\n  - name: x\n    effect: block\n    subjects: any\n    resources: any\n    actions: [connect]\n`)).toEqual([
      "4:13: rule 'x': effect must be one of allow, deny, approve, got 'block'",
    ]);
    expect(await mustFail(`version: 1\nrules:\n  - name: x\n    subjects: any\n`)).toEqual([
      "3:5: rule 'x': missing required key 'effect'",
      "3:5: rule 'x': missing required key 'resources'",
      "3:5: rule 'x': missing required key 'actions'",
    ]);
    expect(await mustFail(`version: 1\nrules:\n  - name: "bad name!"\n${OK_RULE}\n`)).toEqual([
      "3:11: rules[0]: invalid rule name 'bad name!' (letters, digits, '.', '_', ':' and '-', starting with a letter or digit, at most 128 characters)",
    ]);
    expect(await mustFail(`version: 1\nrules:\n  - name: a\n${OK_RULE}\n  - name: a\n${OK_RULE}\n`)).toEqual([
      "9:5: rule 'a': duplicate rule name (first defined on line 3); rule names must be unique because decisions name them",
    ]);
  });

  it("rejects bad globs with the position of the pattern", async () => {
    const errors = await mustFail(`version: 1
rules:
  - name: x
    effect: allow
    subjects:
      - claims: { groups: "[sre]" }
      - subject: "repo:***"
    resources: ["pg-{a,b}", ""]
    actions: [connect]
`);
    expect(errors).toEqual([
      "6:27: rule 'x': subjects[0].claims.groups: pattern '[sre]' uses '[', which is reserved in Gatehouse globs (escape it as '\\[' to match it literally)",
      "7:18: rule 'x': subjects[1].subject: pattern 'repo:***' has '***': use '*' (within one path segment) or '**' (across '/')",
      "8:17: rule 'x': resources[0] (resource name): pattern 'pg-{a,b}' uses '{', which is reserved in Gatehouse globs (escape it as '\\{' to match it literally)",
      "8:29: rule 'x': resources[1] (resource name): empty pattern (it would only match an empty value)",
    ]);
  });

  it("rejects bad durations wherever they appear", async () => {
    const errors = await mustFail(`version: 1
limits: { max_session: 8 hours, statement_timeout: 0s }
rules:
  - name: x
    effect: approve
    subjects: any
    resources: any
    actions: [sql.write]
    approvers: any
    timeout: soon
`);
    expect(errors).toEqual([
      "2:24: limits.max_session: invalid duration '8 hours': use a number with a unit (ms, s, m, h, d), e.g. '30s', '5m', '8h' or '1h30m'",
      "2:52: limits.statement_timeout: invalid duration '0s': must be greater than zero",
      "10:14: rule 'x': timeout: invalid duration 'soon': use a number with a unit (ms, s, m, h, d), e.g. '30s', '5m', '8h' or '1h30m'",
    ]);
  });

  it("validates subject matchers: empty, unknown keys, undefined roles, role refs inside roles", async () => {
    const errors = await mustFail(`version: 1
roles:
  admin:
    - role: other
rules:
  - name: x
    effect: allow
    subjects:
      - {}
      - isuser: https://x
      - role: Admin
      - claims: {}
    resources: any
    actions: [connect]
`);
    expect(errors).toEqual([
      "4:7: role 'admin'[0]: unknown key 'role'; expected one of issuer, subject, claims, github, gitlab",
      "9:9: rule 'x': subjects[0]: an empty subject matcher would match every identity; write 'any' if that is what you mean",
      "10:9: rule 'x': subjects[1]: unknown key 'isuser' (did you mean 'issuer'?); expected one of issuer, subject, claims, github, gitlab, role",
      "11:15: rule 'x': subjects[2].role: role 'Admin' is not defined in 'roles' (did you mean 'admin'?)",
      "12:17: rule 'x': subjects[3].claims: empty (remove it, or name at least one claim)",
    ]);
    expect(await mustFail(`version: 1\nrules:\n  - name: x\n    effect: allow\n    subjects: []\n    resources: any\n    actions: [connect]\n`)).toEqual([
      "5:15: rule 'x': subjects: empty list matches nobody; write 'any' to match every verified identity",
    ]);
  });

  it("validates the github and gitlab matchers", async () => {
    const errors = await mustFail(`version: 1
rules:
  - name: x
    effect: allow
    subjects:
      - github: { repository: acme/api, ref: main }
      - github: { ref: refs/heads/main, environment: production }
      - github: { repo: acme/api }
      - gitlab: { project_path: acme/api, ref: refs/heads/main }
      - issuer: https://gitlab.com
        gitlab: { project_path: acme/api }
      - github: { repository: acme/api }
        gitlab: { project_path: acme/api }
    resources: any
    actions: [connect]
`);
    expect(errors).toEqual([
      "6:46: rule 'x': subjects[0].github.ref: GitHub's ref claim is a full ref name such as 'refs/heads/main', 'refs/tags/v1.2.3' or 'refs/pull/42/merge', got 'main'",
      "7:17: rule 'x': subjects[1].github: pin at least one of repository, repository_id, repository_owner, repository_owner_id — without one this matcher accepts pipelines of every repository on GitHub",
      "8:17: rule 'x': subjects[2].github: pin at least one of repository, repository_id, repository_owner, repository_owner_id — without one this matcher accepts pipelines of every repository on GitHub",
      "8:19: rule 'x': subjects[2].github: unknown key 'repo' (did you mean 'ref'?); expected one of issuer, repository, repository_id, repository_owner, repository_owner_id, repository_visibility, ref, ref_type, ref_protected, environment, workflow, workflow_ref, job_workflow_ref, event_name, actor, actor_id, head_ref, base_ref, runner_environment",
      "9:48: rule 'x': subjects[3].gitlab.ref: GitLab's ref claim is the bare branch or tag name such as 'main' (use ref_type for branch/tag, or ref_path for 'refs/heads/main'), got 'refs/heads/main'",
      "10:9: rule 'x': subjects[4]: 'gitlab' sets the issuer; override it inside the block (gitlab: { issuer: ... }) instead of next to it",
      "13:9: rule 'x': subjects[5]: a matcher cannot be both github and gitlab (a token has one issuer); use two list entries",
    ]);
  });

  it("validates actions: namespacing, reserved protocols, sql conditions", async () => {
    const errors = await mustFail(`version: 1
rules:
  - name: x
    effect: deny
    subjects: any
    resources: any
    actions:
      - read
      - http.request
      - { http: { verbs: [GET] } }
      - sql: { kinds: [writes], flags: [no_where] }
      - sql: {}
      - sql: { kinds: [read], tables: [orders] }
      - delete
      - { sql: { kinds: [read] }, http: {} }
    `);
    expect(errors).toEqual([
      "8:9: rule 'x': actions[0]: unknown action 'read' (did you mean 'sql.read'? actions are namespaced by protocol)",
      "9:9: rule 'x': actions[1]: unknown HTTP action 'http.request'; expected http.*, http.<method> (http.get, http.post…) or { http: { methods, paths, query, headers, upgrade } }",
      "10:9: rule 'x': actions[2].http: http: unknown key 'verbs'; expected methods, paths, query, headers, upgrade",
      "11:24: rule 'x': actions[3].sql.kinds must be one of read, write, ddl, privilege, procedural, transaction, session, copy_external, admin, execute, dynamic, unknown, got 'writes' (did you mean 'write'?)",
      "11:41: rule 'x': actions[3].sql.flags must be one of no-where, data-modifying-cte, explain-analyze, dangerous-function, select-into, locks, got 'no_where' (did you mean 'no-where'?)",
      "12:14: rule 'x': actions[4].sql: empty; write 'sql.*' to mean every statement kind",
      "13:31: rule 'x': actions[5].sql: unknown key 'tables'; expected one of kinds, commands, flags, functions",
      "14:9: rule 'x': actions[6]: unknown action 'delete'; expected connect, sql.*, sql.<kind> or { sql: { kinds, commands, flags, functions } }",
      "15:9: rule 'x': actions[7]: an action mapping has exactly one key (the protocol), e.g. { sql: { kinds: [write], flags: [no-where] } }",
    ]);
  });

  it("validates function names in sql actions, with their line", async () => {
    const errors = await mustFail(`version: 1
rules:
  - name: x
    effect: allow
    subjects: any
    resources: any
    actions:
      - sql: { functions: [pg_sleep, "pg_read_*"] }
      - sql:
          functions:
            - public.my_fn
            - "set config"
    `);
    expect(errors).toEqual([
      "11:15: rule 'x': actions[1].sql.functions: 'public.my_fn' is not a function name (letters, digits, _ and $, optionally with * and ?; no schema: calls qualified by a schema other than pg_catalog are sql.execute)",
      "12:15: rule 'x': actions[1].sql.functions: 'set config' is not a function name (letters, digits, _ and $, optionally with * and ?; no schema: calls qualified by a schema other than pg_catalog are sql.execute)",
    ]);
  });

  it("validates approve-only fields, requires and limits", async () => {
    const errors = await mustFail(`version: 1
rules:
  - name: a
    effect: allow
    subjects: any
    resources: any
    actions: [connect]
    approvers: any
    timeout: 5m
  - name: b
    effect: approve
    subjects: any
    resources: any
    actions: [sql.write]
  - name: c
    effect: allow
    subjects: any
    resources: any
    actions: [connect]
    requires: approval
    limits: { max_sesion: 1h }
`);
    expect(errors).toEqual([
      "8:5: rule 'a': 'approvers' only applies to rules with effect approve (this rule's effect is allow)",
      "9:5: rule 'a': 'timeout' only applies to rules with effect approve (this rule's effect is allow)",
      "10:5: rule 'b': an approve rule needs 'approvers' (subject matchers or roles) unless the policy defines a role named 'approver'",
      "20:15: rule 'c': requires must be one of grant, got 'approval'",
      "21:15: rule 'c': limits: unknown key 'max_sesion' (did you mean 'max_session'?); expected one of max_session, statement_timeout, max_sessions_per_identity, max_sessions_per_resource",
    ]);
  });

  it("validates resources, masking and recording sections", async () => {
    const errors = await mustFail(`version: 1
rules:
  - name: x
    effect: allow
    subjects: any
    resources:
      - {}
      - labels: { env: [] }
      - nmae: pg
    actions: [connect]
masking:
  rules:
    - name: m
      columns: email
      style: 3
    - name: m
      style: redact
      colums: [a]
recording:
  mode: fail-open
  overrides:
    - resources: [demo-pg]
`);
    expect(errors).toEqual([
      "7:9: rule 'x': resources[0]: an empty resource matcher would match every resource; write 'any' if that is what you mean",
      "8:24: rule 'x': resources[1].labels.env: empty list (it would never match)",
      "9:9: rule 'x': resources[2]: unknown key 'nmae' (did you mean 'name'?); expected one of name, type, labels",
      "15:14: masking rule 'm': style must be a string, got the number 3",
      "16:7: masking.rules[1]: duplicate masking rule name 'm'",
      "18:7: masking rule 'm': unknown key 'colums' (did you mean 'columns'?); expected one of name, description, resources, subjects, columns, detectors, patterns, style, keep, mask",
      "20:9: recording.mode must be one of fail-closed, best-effort, got 'fail-open'",
      "22:7: recording.overrides[0]: missing required key 'mode'",
    ]);
  });

  it("lets the masker validate masking rules, at the offending key", async () => {
    const errors = await mustFail(`version: 1
rules: []
masking:
  rules:
    - name: a
      columns: [email]
      style: blur
    - name: b
      detectors: [email, credit-card]
      style: redact
    - name: c
      style: partial
    - name: d
      columns: [email]
      style: partial
      keep: 40
    - name: e
      patterns: ["[a-"]
      style: hash
`);
    expect(errors).toEqual([
      "7:14: masking rule 'a': style must be redact, partial or hash",
      "9:18: masking rule 'b': unknown detector \"credit-card\"",
      "11:7: masking rule 'c': needs columns, detectors or patterns",
      "16:13: masking rule 'd': keep must be an integer 0..16",
      expect.stringMatching(/^18:17: masking rule 'e': pattern "\[a-": /),
    ]);
  });

  it("refuses a masking list written as a scalar, with its position (fuzz finding: was a TypeError)", async () => {
    const errors = await mustFail(`version: 1
rules: []
masking:
  rules:
    - name: a
      columns: email, card_number]
      style: redact
`);
    expect(errors).toEqual([expect.stringMatching(/^\d+:\d+: masking rule 'a': columns must be a list$/)]);
  });

  it("bounds alias expansion (billion laughs) instead of hanging", async () => {
    // One 200-entry subject list referenced by 2000 rules: 400k matchers once aliases are expanded.
    const big = Array.from({ length: 200 }, (_, i) => `    - { claims: { team: t${i} } }`).join("\n");
    const rules = Array.from({ length: 2000 }, (_, i) => `  - { name: r${i}, effect: allow, subjects: *big, resources: any, actions: [connect] }`).join("\n");
    const text = `version: 1\nroles:\n  big: &big\n${big}\nrules:\n${rules}\n`;
    const result = await loadPolicy(text, "laughs.yaml");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map(formatPolicyError)).toEqual(["laughs.yaml:1:1: policy too large: more than 200000 nodes after expanding aliases"]);
  });

  it("refuses keys that change meaning as plain data: a list, mapping or alias as a key, or one key written as two YAML types", async () => {
    const masking = (extra: string) => `version: 1
rules:
  - name: r${OK_RULE}
masking:
  rules:
    - name: m
      resources: [pg-prod]
      columns: [email]
      style: redact
${extra}`;
    // Masking rules are read as JS values: there a list key would be stringified to "[ style ]".
    expect(await mustFail(masking("      ? [style]\n      : keep\n"))).toEqual(["14:9: policy: a list or alias cannot be a key (keys must be plain strings)"]);
    expect(await mustFail(masking("      ? { a: 1 }\n      : keep\n"))).toEqual(["14:9: policy: a mapping cannot be a key (keys must be plain strings)"]);
    // `1:` and `'1':` are different YAML values (YAML's uniqueness check passes) but one JS key.
    expect(await mustFail(masking("      1: a\n      '1': b\n"))).toEqual(["15:7: policy: key '1' is written twice in this mapping (as different YAML types)"]);
    expect(await mustFail(`version: 1\nextra: &k other\nrules:\n  - name: r${OK_RULE}\n? *k\n: 1\n`)).toContain("9:3: policy: a list or alias cannot be a key (keys must be plain strings)");
    expect(await mustFail(`version: 1\nrules:\n  - name: r${OK_RULE}\ntrue: 1\n'true': 2\n`)).toContain("9:1: policy: key 'true' is written twice in this mapping (as different YAML types)");
  });

  it("accepts aliases for reuse", async () => {
    const policy = await mustLoad(`version: 1
rules:
  - name: a
    effect: allow
    subjects: &ci [{ github: { repository: acme/api } }]
    resources: [pg-prod]
    actions: [connect]
  - name: b
    effect: allow
    subjects: *ci
    resources: [pg-staging]
    actions: [connect]
`);
    expect(policy.ruleNames).toEqual(["a", "b"]);
  });

  it("accepts a complete valid policy and formats errors of several lines", async () => {
    const policy = await mustLoad(`version: 1
limits: { max_session: 8h, statement_timeout: 5m }
roles:
  approver: [{ claims: { groups: approvers } }]
rules:
  - name: r1
    description: everything in one rule
    effect: approve
    subjects: [{ issuer: "https://idp.example.com", subject: "user:*", claims: { groups: [sre, dba] } }]
    resources: [{ name: "pg-*", type: postgres, labels: { env: [prod, staging] } }, pg-other]
    actions: [connect, sql.*, { sql: { kinds: [write], commands: ["delete"], flags: [no-where], functions: [pg_sleep] } }]
    requires: grant
    timeout: 10m
    limits: { max_session: 1h }
`);
    expect(policy.ruleNames).toEqual(["r1"]);
    expect(formatPolicyErrors([
      { file: "a.yaml", line: 1, column: 2, message: "x" },
      { file: "a.yaml", line: 3, column: 4, message: "y" },
    ])).toBe("a.yaml:1:2: x\na.yaml:3:4: y");
  });
});
