/** Reading and writing sealed chunks in R2. */
import { chunkKey, chunkPrefix } from "./storage-keys.ts";

export interface ChunkMeta {
  session: string;
  chunk: number;
  first_seq: number;
  last_seq: number;
  final: boolean;
}

export async function putChunk(bucket: R2Bucket, meta: ChunkMeta, body: string): Promise<void> {
  await bucket.put(chunkKey(meta.session, meta.chunk), body, {
    httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" },
    customMetadata: {
      session: meta.session,
      chunk: String(meta.chunk),
      first_seq: String(meta.first_seq),
      last_seq: String(meta.last_seq),
      final: meta.final ? "true" : "false",
    },
  });
}

/** Keys of a session's chunks in chunk order. */
export async function listChunkKeys(bucket: R2Bucket, sessionId: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: chunkPrefix(sessionId), cursor, limit: 1000 });
    for (const o of page.objects) keys.push(o.key);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys.sort();
}

/** The export: every chunk of the session, concatenated in chunk order (JSON Lines). */
export async function readExport(bucket: R2Bucket, sessionId: string): Promise<{ text: string; chunks: number }> {
  const keys = await listChunkKeys(bucket, sessionId);
  let text = "";
  for (const key of keys) {
    const obj = await bucket.get(key);
    if (!obj) continue; // deleted between list and get: the verifier reports the gap
    const body = await obj.text();
    text += body.endsWith("\n") || body === "" ? body : body + "\n";
  }
  return { text, chunks: keys.length };
}

/** Streams the export without holding it in memory (for large sessions). */
export function streamExport(bucket: R2Bucket, sessionId: string): ReadableStream<Uint8Array> {
  let keys: string[] | undefined;
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      keys ??= await listChunkKeys(bucket, sessionId);
      while (i < keys.length) {
        const obj = await bucket.get(keys[i++]);
        if (!obj) continue;
        controller.enqueue(new Uint8Array(await obj.arrayBuffer()));
        return;
      }
      controller.close();
    },
  });
}
