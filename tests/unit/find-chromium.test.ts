/** Where the browser tests look for Chromium: CHROMIUM_PATH, then each platform's usual paths, else how to install it. */
import { describe, expect, it } from "vitest";
import { chromiumCandidates, findChromium } from "../helpers/find-chromium.ts";

const only = (...paths: string[]) => (path: string) => paths.includes(path);

describe("findChromium", () => {
  it("takes CHROMIUM_PATH first, and refuses one that does not exist, naming the setting", () => {
    expect(findChromium({ CHROMIUM_PATH: "/opt/chrome/chrome" }, "linux", only("/opt/chrome/chrome", "/usr/bin/chromium"))).toBe("/opt/chrome/chrome");
    expect(() => findChromium({ CHROMIUM_PATH: "/nope" }, "linux", only("/usr/bin/chromium"))).toThrow(/CHROMIUM_PATH is \/nope, which does not exist/);
  });

  it("falls back to the platform's usual paths, in order", () => {
    expect(findChromium({}, "linux", only("/usr/bin/chromium-browser", "/usr/bin/google-chrome"))).toBe("/usr/bin/chromium-browser");
    expect(findChromium({}, "linux", only("/usr/bin/chromium"))).toBe("/usr/bin/chromium");
    expect(findChromium({}, "darwin", only("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"))).toBe(
      "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    );
    expect(findChromium({}, "win32", only("C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe"))).toMatch(/chrome\.exe$/);
  });

  it("when none is found, says how to install one for this platform and names CHROMIUM_PATH", () => {
    for (const [platform, hint] of [["linux", /apt-get install -y chromium/], ["darwin", /brew install --cask/], ["win32", /winget install Google\.Chrome/]] as const) {
      const attempt = () => findChromium({}, platform, () => false);
      expect(attempt).toThrow(hint);
      expect(attempt).toThrow(/set CHROMIUM_PATH/);
      expect(attempt).toThrow(chromiumCandidates(platform)[0]); // says where it looked
    }
  });
});
