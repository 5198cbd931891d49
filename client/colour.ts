/**
 * Colour only where a person is looking: on a terminal, never when NO_COLOR is set to anything
 * non-empty (https://no-color.org), never for TERM=dumb. Pipes, files and CI logs get plain text.
 */
export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

export interface Paint {
  ok(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
}

export function paint(enabled: boolean): Paint {
  const wrap = (code: number) => (text: string) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { ok: wrap(32), bad: wrap(31), warn: wrap(33) };
}
