/**
 * The operator console in headless Chromium against the real stack: the CRM
 * sandbox refuses leads (422) so their deliveries die and the chat webhook
 * gets ONE alert; the operator walks the overview, filters to monelec's dead
 * deliveries, opens one and reads its attempt timeline, sees the count of
 * "retry everything matching", confirms, and the sandbox (healthy again)
 * receives the leads; the alert then resolves. Screenshots of each page go to
 * ARTIFACTS_DIR (default <tmp>/raccordement-artifacts/).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConsoleServer, type ConsoleServer } from "../../scripts/console/serve.ts";
import { loadDestinations } from "../../src/config.ts";
import { eventually, startTestStack, TEST_CRM_KEY, type TestStack } from "../helpers/test-stack.ts";
import { startReceiver } from "./seed.ts";

const CHROMIUM = "/usr/bin/chromium";
const SLOW = { timeout: 15_000, interval: 100 };
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const ARTIFACTS = process.env.ARTIFACTS_DIR ?? join(tmpdir(), "raccordement-artifacts");

let stack: TestStack;
let consoleServer: ConsoleServer;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let context: BrowserContext;
let page: Page;
let userDataDir: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's chromium (apt-get install chromium).`);
  receiver = await startReceiver();
  stack = await startTestStack({ ALERT_WEBHOOK_URL: receiver.url, ALERT_PENDING_AGE: "10m" });
  consoleServer = await startConsoleServer({
    databaseUrl: stack.db.url,
    destinations: loadDestinations({ MONELEC_API_KEY: TEST_CRM_KEY, MONELEC_API_URL: stack.crmUrl }, 2000),
    actor: "operatrice",
    port: 0,
  });
  await mkdir(ARTIFACTS, { recursive: true });
  userDataDir = await mkdtemp(join(tmpdir(), "raccordement-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, args: ARGS, viewport: { width: 1280, height: 900 }, locale: "fr-FR", timezoneId: "Europe/Paris", acceptDownloads: true,
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 120_000);

afterAll(async () => {
  await context?.close();
  await consoleServer?.close();
  await stack?.close();
  await receiver?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

async function shot(name: string, opts: { fullPage?: boolean } = { fullPage: true }) {
  const path = join(ARTIFACTS, `console-${name}.png`);
  await page.screenshot({ path, ...opts });
  const png = await readFile(path);
  expect(png.subarray(0, 4).toString("hex")).toBe("89504e47");
  expect(png.length).toBeGreaterThan(10_000);
  return path;
}

const ready = () => page.waitForSelector("body[data-ready=true]", SLOW);

describe("the operator console in Chromium", () => {
  it("overview → monelec's dead deliveries → one delivery's timeline → retry them all after the count → the CRM gets them; one alert, one resolved", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const emails = [1, 2, 3].map((i) => `client.${i}.${Date.now()}@example.fr`);

    stack.crmSandbox!.setFaults({ mode: "reject" });
    for (const [i, email] of emails.entries()) {
      const res = await stack.call("form-start", { email, phone: `06 12 34 56 7${i}`, firstname: "Marie", lastname: "Curie", postal_code: "75005" });
      expect(res.status).toBe(200);
    }
    await eventually(async () => (await stack.db.sql`select count(*)::int as n from crm_deliveries where state = 'dead' and destination = 'monelec'`)[0].n === 3, 20_000);
    // The sweeper told the chat once, whatever the number of deaths.
    await eventually(() => receiver.messages.length === 1, 15_000);

    // Overview.
    await page.goto(consoleServer.url);
    await ready();
    expect(new URL(page.url()).search).toBe(""); // the token left the address bar for a cookie
    const card = page.locator('.card[data-destination="monelec"]');
    await expect.poll(() => card.locator(".badge").first().textContent(), SLOW).toBe("active");
    await expect.poll(() => card.locator('[data-k="backlog"] .dead-link').textContent(), SLOW).toBe("3");
    await expect.poll(() => page.locator("#chart-throughput svg rect").count(), SLOW).toBeGreaterThan(0);
    expect(await card.locator('[data-k="failure"]').textContent()).toBe("100 %");
    await shot("1-overview");

    // Filter to monelec's dead deliveries (the card's link fills the filter).
    await card.locator(".dead-link").click();
    await ready();
    await expect.poll(() => page.locator("tr.delivery").count(), SLOW).toBe(3);
    expect(await page.locator('#filters select[name="destination"]').inputValue()).toBe("monelec");
    expect(await page.locator('#filters select[name="state"]').inputValue()).toBe("dead");
    expect(await page.locator('tr.delivery[data-state="dead"][data-destination="monelec"]').count()).toBe(3);
    await shot("2-dead-deliveries");

    // One delivery: its attempt timeline, its body masked.
    await page.locator("tr.delivery a").first().click();
    await ready();
    const attempt = page.locator("#attempts li").first();
    await expect.poll(() => attempt.getAttribute("data-outcome"), SLOW).toBe("dead");
    expect(await attempt.textContent()).toMatch(/#1 morte.*HTTP 422/);
    expect(await attempt.locator(".why").textContent()).toMatch(/422/);
    const body = await page.locator("#event-body").textContent();
    expect(body).toMatch(/"email": "c\*\*\*@\*\*\*\.fr"/);
    expect(body).toContain('"firstName": "M***"');
    for (const e of emails) expect(await page.content()).not.toContain(e);
    expect(await page.locator("#record-deliveries tbody tr").count()).toBe(1);
    await shot("3-delivery");

    // Back to the list; the CRM is healthy again; retry everything matching after reading the count.
    stack.crmSandbox!.setFaults({ mode: "ok" });
    await page.goBack();
    await ready();
    await expect.poll(() => page.locator("tr.delivery").count(), SLOW).toBe(3);
    await page.locator("#bulk-retry").click();
    await expect.poll(() => page.locator("#confirm").getAttribute("data-count"), SLOW).toBe("3");
    expect(await page.locator("#confirm-text").textContent()).toBe("3 livraison(s) morte(s) seront renvoyées avec les données actuelles.");
    await shot("4-confirm-retry");
    await page.locator("#confirm-yes").click();
    await eventually(() => emails.every((e) => stack.crmSandbox!.accepted().some((a) => a.endpoint === "/leads" && (a.body as { email: string }).email === e)), 20_000);
    await expect.poll(() => page.locator("tr.delivery").count(), SLOW).toBe(0);
    await expect.poll(() => page.locator("#rows").textContent(), SLOW).toBe("Aucune livraison ne correspond.");

    // The chat heard "resolved", once.
    await eventually(() => receiver.messages.length === 2, 15_000);
    expect(receiver.messages[0]).toMatch(/Livraisons en échec — monelec : [1-3] livraison\(s\) en échec définitif \(dernier statut HTTP 422\)/);
    expect(receiver.messages[1]).toMatch(/Résolu — monelec/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(receiver.messages).toHaveLength(2);
    for (const m of receiver.messages) for (const e of emails) expect(m).not.toContain(e);

    // The activity list shows who retried what, and how many.
    await page.locator('[data-nav="activity"]').click();
    await ready();
    const retry = page.locator('#activity tr[data-action="retry"]').first();
    await expect.poll(() => retry.textContent(), SLOW).toMatch(/operatrice \(console\)retrystate=dead destination=monelec3/);
    await shot("5-activity");

    // English, on a phone.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${consoleServer.baseUrl}/?lang=en#/`);
    await ready();
    expect(await page.locator('[data-nav="overview"]').textContent()).toBe("Overview");
    await expect.poll(() => card.locator(".badge").first().textContent(), SLOW).toBe("enabled");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot("6-overview-phone-en");
    expect(errors).toEqual([]);
    console.log(`console screenshots: ${ARTIFACTS}/console-*.png`);
  }, 120_000);
});
