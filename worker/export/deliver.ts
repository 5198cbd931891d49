/**
 * Delivery of one signed batch to one sink. HTTP: POST, success is any 2xx; anything else (or a
 * network error) is a failure the exporter retries with the same batch. R2: one object per batch,
 * named by session and record range, so a retried batch overwrites itself instead of duplicating.
 */
import type { Env } from "../env.ts";
import type { ExportSink } from "./config.ts";

export async function deliverBatch(env: Env, sink: ExportSink, body: string, headers: Record<string, string>, key: { session: string; from: number; to: number }): Promise<void> {
  if (sink.kind === "r2") {
    const name = `${sink.prefix}${sink.name}/${key.session}/${String(key.from).padStart(8, "0")}-${String(key.to).padStart(8, "0")}.${sink.format === "jsonl" ? "jsonl" : "ocsf.jsonl"}`;
    await env.RECORDINGS.put(name, body, { httpMetadata: { contentType: "application/x-ndjson" }, customMetadata: headers });
    return;
  }
  const auth = sink.authorizationSecret ? (env as unknown as Record<string, string | undefined>)[sink.authorizationSecret] : undefined;
  if (sink.authorizationSecret && !auth) throw new Error(`secret ${sink.authorizationSecret} is not set`);
  const response = await fetch(sink.url, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", ...headers, ...(auth ? { authorization: auth } : {}) },
    body,
    redirect: "manual", // a redirect could carry the trail (and the credential) elsewhere
  });
  // Drain the body so the connection can be reused; a receiver's answer is not needed beyond its status.
  await response.body?.cancel();
  if (response.status < 200 || response.status > 299) throw new Error(`HTTP ${response.status}`);
}
