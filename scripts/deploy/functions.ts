/**
 * The functions to deploy: the folders under supabase/functions/ (a folder
 * whose name starts with `_` is shared code, not a function) and their
 * [functions.<name>] sections in supabase/config.toml, which must agree.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface FunctionConfig {
  verifyJwt?: boolean;
  importMap?: string;
}

export interface FunctionToDeploy {
  name: string;
  verifyJwt: boolean;
}

/**
 * The [functions.<name>] sections of a config.toml: just the keys deploy
 * needs (`verify_jwt`, `import_map`), in file order. Comments are ignored.
 */
export function parseFunctionSections(toml: string): Map<string, FunctionConfig> {
  const sections = new Map<string, FunctionConfig>();
  let current: FunctionConfig | undefined;
  for (const raw of toml.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[\s*functions\.(?:"([^"]+)"|([A-Za-z0-9_-]+))\s*\]$/.exec(line);
    if (header) {
      current = {};
      sections.set(header[1] ?? header[2], current);
      continue;
    }
    if (line.startsWith("[")) {
      current = undefined;
      continue;
    }
    if (!current) continue;
    const jwt = /^verify_jwt\s*=\s*(true|false)$/.exec(line);
    if (jwt) current.verifyJwt = jwt[1] === "true";
    const map = /^import_map\s*=\s*"([^"]*)"$/.exec(line);
    if (map) current.importMap = map[1];
  }
  return sections;
}

/** Function folders: directories not starting with `_`, sorted. */
export function functionFolders(functionsDir: string): string[] {
  return readdirSync(functionsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith("_"))
    .map((e) => e.name)
    .sort();
}

export interface FunctionsCheck {
  functions: FunctionToDeploy[];
  problems: string[];
}

/** Folders and config sections must match one to one; each function has an entry file and an explicit verify_jwt. */
export function checkFunctions(folders: string[], sections: Map<string, FunctionConfig>, entryExists: (name: string) => boolean): FunctionsCheck {
  const problems: string[] = [];
  for (const name of folders) {
    if (!sections.has(name)) problems.push(`supabase/functions/${name}/ has no [functions.${name}] section in supabase/config.toml.`);
    if (!entryExists(name)) problems.push(`supabase/functions/${name}/ has no index.ts.`);
  }
  for (const [name, cfg] of sections) {
    if (!folders.includes(name)) problems.push(`[functions.${name}] in supabase/config.toml has no folder supabase/functions/${name}/.`);
    if (cfg.verifyJwt === undefined) problems.push(`[functions.${name}] must say verify_jwt = true or false (explicitly, with the reason in a comment).`);
  }
  const functions = folders
    .filter((name) => sections.has(name))
    .map((name) => ({ name, verifyJwt: sections.get(name)!.verifyJwt ?? true }));
  return { functions, problems };
}

/** Reads the project's folders and config.toml. */
export function loadFunctions(root: string): FunctionsCheck & { sections: Map<string, FunctionConfig> } {
  const functionsDir = join(root, "supabase", "functions");
  const sections = parseFunctionSections(readFileSync(join(root, "supabase", "config.toml"), "utf8"));
  const check = checkFunctions(functionFolders(functionsDir), sections, (name) => existsSync(join(functionsDir, name, "index.ts")));
  return { ...check, sections };
}
