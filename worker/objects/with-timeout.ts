/**
 * Bound the wait for another object's answer: a stuck Durable Object (overloaded, its isolate
 * wedged) must not leave its caller waiting for ever. The work itself is not cancelled (an RPC
 * cannot be); its late answer, or its error, is ignored.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  work.catch(() => {}); // a late failure after the time limit is nobody's to handle
  return Promise.race([work, expired]).finally(() => clearTimeout(timer!));
}
