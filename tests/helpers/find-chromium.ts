/**
 * The Chromium (or Chrome) the browser tests drive: CHROMIUM_PATH when set,
 * else the first of this platform's usual install paths that exists. When
 * none does, the error says how to install one or where to point the setting.
 */
import { existsSync } from "node:fs";

const DEFAULTS: Record<string, string[]> = {
  linux: ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable", "/snap/bin/chromium"],
  darwin: [
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
  ],
  win32: [
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Program Files\\Chromium\\Application\\chrome.exe",
  ],
};

const HOW_TO_INSTALL: Record<string, string> = {
  linux: "Debian/Ubuntu: sudo apt-get install -y chromium (Ubuntu: chromium-browser, or Google Chrome's .deb)",
  darwin: "macOS: brew install --cask google-chrome (or chromium)",
  win32: "Windows: install Google Chrome (winget install Google.Chrome)",
};

export function chromiumCandidates(platform: string = process.platform): string[] {
  return DEFAULTS[platform] ?? [];
}

export function findChromium(
  env: Record<string, string | undefined> = process.env,
  platform: string = process.platform,
  exists: (path: string) => boolean = existsSync,
): string {
  const chosen = env.CHROMIUM_PATH?.trim();
  if (chosen) {
    if (exists(chosen)) return chosen;
    throw new Error(`CHROMIUM_PATH is ${chosen}, which does not exist: point it at a Chromium or Chrome executable.`);
  }
  const found = chromiumCandidates(platform).find((path) => exists(path));
  if (found) return found;
  const looked = chromiumCandidates(platform);
  throw new Error(
    `The browser tests need Chromium or Chrome, and none was found${looked.length ? ` (looked at: ${looked.join(", ")})` : ""}. ` +
      `Install it — ${HOW_TO_INSTALL[platform] ?? "see https://www.chromium.org/getting-involved/download-chromium/"} — ` +
      "or set CHROMIUM_PATH to its executable.",
  );
}
