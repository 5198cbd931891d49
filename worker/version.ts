/** The worker's release (package.json "version"; test/versions.test.ts keeps every copy equal). */
export const WORKER_RELEASE = "0.1.0";
