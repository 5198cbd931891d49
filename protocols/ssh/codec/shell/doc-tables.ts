/**
 * The generated tables of docs/SSH.md: each sits between `<!-- generated: NAME (source) -->` and
 * `<!-- end generated -->`. `fillDocTables(text)` returns the text with every table regenerated;
 * doc-tables.test.ts checks the committed docs equal that (GATEHOUSE_UPDATE_DOCS=1 rewrites them).
 */
import { renderProgramTableDoc } from "./programs.ts";
import { renderWrapperTableDoc } from "./wrapper-table.ts";
import { renderProtectedPathsDoc } from "../../policy/protected-paths.ts";

const TABLES: Record<string, () => string> = {
  wrappers: renderWrapperTableDoc,
  programs: renderProgramTableDoc,
  "protected paths": renderProtectedPathsDoc,
};

export function fillDocTables(text: string): string {
  return text.replace(/(<!-- generated: ([^(]+?) \([^)]*\) -->\n)[\s\S]*?(<!-- end generated -->)/g, (_, open: string, name: string, close: string) => {
    const render = TABLES[name];
    if (!render) throw new Error(`docs: unknown generated table '${name}'`);
    return `${open}${render()}\n${close}`;
  });
}
