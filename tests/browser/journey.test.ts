/**
 * A visitor's whole journey on the example page, in headless Chromium
 * (CHROMIUM_PATH, else the platform's usual install paths: tests/helpers/find-chromium.ts;
 * .ci/run installs Debian's `chromium`): step 1 → step 2 (with field errors shown
 * next to the fields) → pay → simulated card success → call-back; then the
 * lead, the paid request and the call-back are in the CRM sandbox. Ends with a
 * screenshot (ARTIFACTS_DIR, default a temp dir) that must be a real PNG.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findChromium } from "../helpers/find-chromium.ts";
import { eventually, startTestStack, type TestStack } from "../helpers/test-stack.ts";

/** How long an answer may take to show on the page (a loaded CI machine is slow). */
const SLOW = { timeout: 15_000, interval: 100 };
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let stack: TestStack;
let context: BrowserContext;
let page: Page;
let userDataDir: string;

beforeAll(async () => {
  const chromiumPath = findChromium(); // fails (not skips) with how to install it
  stack = await startTestStack({ RATE_LIMIT_PER_MINUTE: "0", EXAMPLE_PAGE_PORT: "0" });
  if (!stack.examplePageUrl) throw new Error(`The example page is not served: ${stack.examplePageProblem}`);
  userDataDir = await mkdtemp(join(tmpdir(), "raccordement-chromium-"));
  // A fresh profile for each run (launchPersistentContext = chromium.launch with our own user-data dir).
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    locale: "en-GB",
    timezoneId: "Europe/Paris",
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 90_000);

afterAll(async () => {
  await context?.close();
  await stack?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

const received = () => stack.crmSandbox!.accepted().map((a) => ({ endpoint: a.endpoint, body: a.body as Record<string, unknown> }));

describe("the example page in Chromium", () => {
  it("walks a whole journey, and the lead, the paid request and the call-back reach the CRM sandbox", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const email = `marie.${Date.now()}@example.fr`;

    await page.goto(stack.examplePageUrl!);
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.locator("#crm-link").getAttribute("href")).toBe(`http://127.0.0.1:${stack.crmSandbox!.port}/`);

    // The honeypot is there for bots, out of sight and out of the tab order for people.
    const trap = page.locator("#step1").getByLabel("Leave this empty");
    expect(await trap.getAttribute("tabindex")).toBe("-1");
    expect(await trap.getAttribute("autocomplete")).toBe("off");
    expect(await trap.evaluate((el) => el.getBoundingClientRect().right <= 0)).toBe(true);

    // Step 1: form-start.
    const step1 = page.locator("#step1");
    await step1.getByLabel("Email").fill(email);
    await step1.getByLabel("Phone").fill("06 12 34 56 78");
    await step1.getByLabel("First name").fill("Marie");
    await step1.getByLabel("Last name").fill("Curie");
    await step1.getByLabel("Connection type").selectOption("photovoltaique");
    await step1.getByLabel("Postal code").fill("75005");
    await step1.getByRole("button", { name: "Continue" }).click();
    await expect.poll(() => step1.locator(".result").textContent(), SLOW).toMatch(/^Lead saved \([0-9a-f-]{36}\)\.$/);

    // Step 2: carried over from step 1; sent incomplete first, the field errors land next to the fields.
    const step2 = page.locator("#step2");
    expect(await step2.getByLabel("Email").inputValue()).toBe(email);
    expect(await step2.getByLabel("Full name").inputValue()).toBe("Marie Curie");
    await step2.getByLabel("Power (kVA)").fill("300");
    await step2.getByRole("button", { name: "Send my request" }).click();
    await expect.poll(() => step2.locator(".result").textContent(), SLOW).toBe("Please correct the highlighted fields.");
    expect(await step2.locator('[data-error-for="request.address"]').textContent()).toBe("is required");
    expect(await step2.locator('[data-error-for="request.city"]').textContent()).toBe("is required");
    expect(await step2.locator('[data-error-for="request.power_kva"]').textContent()).toBe("must be at most 250");
    expect(await step2.getByLabel("Address").getAttribute("aria-invalid")).toBe("true");
    await step2.getByLabel("Address").fill("12 rue des Écoles");
    await step2.getByLabel("City").fill("Paris");
    await step2.getByLabel("Phase").selectOption("triphase");
    await step2.getByLabel("Power (kVA)").fill("36");
    await step2.getByLabel("The plot is serviced (viabilisé)").check();
    await step2.getByRole("button", { name: "Send my request" }).click();
    await expect.poll(() => step2.locator(".result").textContent(), SLOW).toMatch(/^Request sent \([0-9a-f-]{36}\)\.$/);
    expect((await step2.locator(".field-error").allTextContents()).join("")).toBe("");

    // Step 3: create-payment-intent (the server's price), then the Stripe double's signed webhook.
    const [price] = await stack.db.sql<{ amount: number }[]>`select amount from prices where type_raccordement = 'photovoltaique'`;
    const euros = (price.amount / 100).toFixed(2).replace(".", ",");
    await page.getByRole("button", { name: "Pay" }).click();
    await expect.poll(() => page.locator("#step3 .result").first().textContent(), SLOW).toMatch(new RegExp(`^Payment of ${euros}\\s€ ready \\(pi_\\w+\\)\\.$`));
    await page.getByRole("button", { name: "Simulate card success" }).click();
    await expect.poll(() => page.locator("#step3 .result").first().textContent(), SLOW).toBe("Payment succeeded: stripe-webhook marked the request paid.");

    // The call-back form: contact-callback.
    const callback = page.locator("#callback");
    await callback.getByLabel("Full name").fill("Ana Lopez Garcia");
    await callback.getByLabel("Phone").fill("06 98 76 54 32");
    await callback.getByLabel("Postal code").fill("69001");
    await callback.getByRole("button", { name: "Call me back" }).click();
    await expect.poll(() => callback.locator(".result").textContent(), SLOW).toMatch(/^We will call you back \([0-9a-f-]{36}\)\.$/);

    // The CRM got the lead, the request up to "paid", and the call-back.
    // (Deliveries run in the background after each answer: wait for all three.)
    await eventually(() => {
      const all = received();
      return (
        all.some((r) => r.endpoint === "/leads" && r.body.email === email) &&
        all.some((r) => r.endpoint === "/requests" && r.body.email === email && r.body.payment_status === "paid") &&
        all.some((r) => r.endpoint === "/leads" && r.body.phone === "+33698765432")
      );
    }, 20_000);
    const got = received();
    expect(got.find((r) => r.endpoint === "/leads" && r.body.email === email)?.body).toMatchObject({
      firstName: "Marie",
      lastName: "Curie",
      serviceType: "photovoltaique",
      postalCode: "75005",
      phone: "+33612345678",
    });
    expect(got.filter((r) => r.endpoint === "/requests" && r.body.email === email).map((r) => r.body.payment_status)).toEqual(["pending", "pending", "paid"]);
    expect(got.find((r) => r.endpoint === "/requests" && r.body.payment_status === "paid")?.body).toMatchObject({
      full_name: "Marie Curie",
      type_raccordement: "photovoltaique",
      address: "12 rue des Écoles",
      zip_code: "75005",
      phase: "triphase",
      power_kva: 36,
      is_viabilise: true,
      amount: price.amount,
      currency: "eur",
    });
    expect(got.find((r) => r.endpoint === "/leads" && r.body.phone === "+33698765432")?.body).toMatchObject({
      firstName: "Ana",
      lastName: "Lopez Garcia",
      source: "example-page",
      postalCode: "69001",
    });
    const [request] = await stack.db.sql`select payment_status from requests r join customers c on c.id = r.customer_id where c.email = ${email}`;
    expect(request.payment_status).toBe("paid");
    expect(await page.locator("#log li.bad").allTextContents()).toEqual([expect.stringMatching(/form-submit → 400 invalid_input/)]);
    expect(errors).toEqual([]);

    // The screenshot: the finished journey, as a newcomer sees it.
    const dir = process.env.ARTIFACTS_DIR ?? join(tmpdir(), "raccordement-artifacts");
    await mkdir(dir, { recursive: true });
    const path = join(dir, "example-page-journey.png");
    await page.screenshot({ path, fullPage: true });
    const png = await readFile(path);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    expect(width).toBe(1280);
    expect(height).toBeGreaterThan(900);
    expect(png.length).toBeGreaterThan(50_000);
    console.log(`screenshot: ${path} (${width}×${height}, ${png.length} bytes)`);

    // And the sandbox's own page shows the lead, as the page's link promises.
    await page.goto(`http://127.0.0.1:${stack.crmSandbox!.port}/`);
    expect(await page.content()).toContain(email);
  }, 90_000);
});
