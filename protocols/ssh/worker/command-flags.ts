/** What the trail records about one command of an exec line besides its name (docs/AUDIT.md `query.statements[].flags`). */
import type { ShellCommand } from "../codec/shell/types.ts";

export function commandFlags(c: ShellCommand): string[] {
  const flags: string[] = [];
  if (c.via.length > 0) flags.push(`via ${c.via.join(" → ")}`);
  if (c.hidden) flags.push(`hidden: ${c.hidden}`);
  for (const w of (c.writes ?? []).slice(0, 16)) flags.push(`writes ${w.unknown ? `? (${w.unknown})` : `${w.path}${w.subtree ? "/**" : ""}`}`);
  return flags;
}
