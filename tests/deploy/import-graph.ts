/**
 * What a function entry pulls in: the local files (relative imports, followed
 * transitively) and the bare specifiers (npm packages) — the two things a
 * deploy must carry: the files to upload, the packages to map.
 */
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import ts from "typescript";

export interface ImportGraph {
  /** Repo-relative paths, posix separators, the entry included. */
  files: Set<string>;
  /** e.g. "zod", "libphonenumber-js/max" (builtins like `node:…` excluded). */
  bare: Set<string>;
}

export function importGraph(root: string, entry: string): ImportGraph {
  const files = new Set<string>();
  const bare = new Set<string>();
  const queue = [normalize(entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    const rel = relative(root, join(root, file)).split(sep).join("/");
    if (files.has(rel)) continue;
    files.add(rel);
    const source = readFileSync(join(root, file), "utf8");
    for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
      if (fileName.startsWith("./") || fileName.startsWith("../")) queue.push(join(dirname(file), fileName));
      else if (!/^(node|npm|jsr|https?):/.test(fileName)) bare.add(fileName);
    }
  }
  return { files, bare };
}
