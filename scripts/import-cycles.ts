/**
 * Import cycles among the TypeScript files under a folder. Every import counts — value, type-only
 * (`import type`, `import("./x.ts").T`), re-exports and dynamic imports — because a type cycle is
 * still a layering knot (issue 15: "no import cycles in worker/"). Uses the TypeScript compiler's
 * own import scanner; only relative specifiers can point inside the folder.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

/**
 * Each cycle is a strongly connected set of files (paths relative to `root`), sorted. With
 * `folders`, only files under those sub-folders of `root` form the graph (imports between them count).
 */
export function findImportCycles(root: string, folders?: readonly string[]): string[][] {
  const files = folders ? folders.flatMap((f) => listTs(path.resolve(root, f))) : listTs(root);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const deps = importedFiles
      .map((r) => r.fileName)
      .filter((spec) => spec.startsWith("."))
      .map((spec) => path.resolve(path.dirname(file), spec))
      .filter((target) => known.has(target));
    graph.set(file, deps);
  }
  return stronglyConnected(graph)
    .filter((scc) => scc.length > 1 || graph.get(scc[0]!)!.includes(scc[0]!))
    .map((scc) => scc.map((f) => path.relative(root, f)).sort());
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.resolve(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Tarjan's algorithm, iterative (no recursion limit on long import chains). */
function stronglyConnected(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; edge: number }[] = [{ node: start, edge: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const deps = graph.get(top.node)!;
      if (top.edge < deps.length) {
        const dep = deps[top.edge++]!;
        if (!index.has(dep)) {
          index.set(dep, next);
          low.set(dep, next++);
          stack.push(dep);
          onStack.add(dep);
          work.push({ node: dep, edge: 0 });
        } else if (onStack.has(dep)) low.set(top.node, Math.min(low.get(top.node)!, index.get(dep)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const scc: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          scc.push(member);
        } while (member !== top.node);
        out.push(scc);
      }
    }
  }
  return out;
}
