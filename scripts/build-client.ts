/**
 * Builds the website client, src/client/ → dist/client/ (`npm run build:client`,
 * also run by `prepare`, so installing the package from git builds it):
 * tsc with tsconfig.client.json (ES2020 modules + declarations, `.ts` import
 * paths rewritten to `.js` in the JavaScript), then the same rewrite in the
 * declarations, which tsc leaves as written, so that any TypeScript setting
 * and any tool reads them.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = fileURLToPath(new URL("../dist/client/", import.meta.url));

rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.client.json"], { cwd: root, stdio: "inherit" });

const RELATIVE_TS = /((?:from|import)\s*\(?\s*["']\.{1,2}\/[^"']*?)\.ts(["'])/g;
for (const file of readdirSync(out).filter((f) => f.endsWith(".d.ts"))) {
  const path = out + file;
  writeFileSync(path, readFileSync(path, "utf8").replace(RELATIVE_TS, "$1.js$2"));
}
