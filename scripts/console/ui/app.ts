/**
 * The console's page: a hash router over four views (overview, deliveries,
 * one delivery, activity) that polls the JSON API every few seconds. DOM built
 * with textContent only (nothing from the database is parsed as HTML).
 */
import { lines, stackedBars } from "./charts.ts";
import { fmtAge, fmtTime, lang, t } from "./i18n.ts";

const TOKEN = (document.querySelector('meta[name="console-token"]') as HTMLMetaElement).content;
const POLL_MS = 4000;
const OUTCOMES = ["delivered", "retry", "dead", "throttled", "paused", "lease_lost"];

type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;
type Child = Node | string | number | null | undefined | false | Child[];

function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") e.addEventListener(k.replace(/^on/, ""), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  append(e, children);
  return e;
}
function append(e: Node, children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

class ApiError extends Error {}

async function call<T = any>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "x-console-token": TOKEN, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    const err = await res.json().catch(() => null);
    const fields = err?.error?.fields ? ` (${Object.entries(err.error.fields).map(([k, v]) => `${k}: ${v}`).join("; ")})` : "";
    throw new ApiError(`${err?.error?.message ?? res.status}${fields}`);
  }
  return (res.headers.get("content-type") ?? "").includes("json") ? res.json() : (res as unknown as T);
}

function toast(text: string) {
  const el = document.getElementById("toast")!;
  el.textContent = text;
  el.hidden = false;
  clearTimeout((toast as any).timer);
  (toast as any).timer = setTimeout(() => (el.hidden = true), 6000);
}

function setLive(ok: boolean) {
  const el = document.getElementById("live")!;
  el.textContent = ok ? `● ${t("live.on")} ${new Date().toLocaleTimeString()}` : `○ ${t("live.off")}`;
}

/** A confirmation panel under `where`: the text, then Confirm / Cancel. */
function confirmPanel(where: HTMLElement, text: string, onYes: () => Promise<void>) {
  where.querySelector(".confirm")?.remove();
  const panel = h("div", { class: "panel confirm", id: "confirm", role: "alertdialog" },
    h("p", { id: "confirm-text" }, text),
    h("div", { class: "actions" },
      h("button", { class: "primary", id: "confirm-yes", onclick: async (e: Event) => {
        (e.target as HTMLButtonElement).disabled = true;
        try {
          await onYes();
        } catch (err) {
          toast(`${t("error")}: ${(err as Error).message}`);
        }
        panel.remove();
        void refresh();
      } }, t("action.confirm")),
      h("button", { id: "confirm-no", onclick: () => panel.remove() }, t("action.cancel"))));
  where.append(panel);
}

const badge = (cls: string, text: string) => h("span", { class: `badge ${cls}` }, text);
const main = () => document.getElementById("main")!;
let refresh: () => Promise<void> = async () => {};
let meta: { configured: string[]; states: string[]; event_types: string[]; actor: string } | undefined;

// ───────────────────────── overview ─────────────────────────
function overviewView() {
  let window = "1h";
  const cards = h("div", { class: "cards", id: "cards" });
  const backlog = h("div", { class: "panel backlog", id: "backlog" });
  const charts = h("div", { class: "charts" });
  const windowButtons = ["1h", "24h"].map((w) => h("button", { "data-window": w, onclick: () => { window = w; void refresh(); } }, t(`window.${w}`)));
  main().replaceChildren(
    h("h1", {}, t("overview.title")), cards,
    h("h2", {}, t("overview.backlog")), backlog,
    h("h2", {}, t("overview.charts"), " ", ...windowButtons), charts);

  refresh = async () => {
    const o = await call(`/api/overview?window=${window}`);
    windowButtons.forEach((b) => b.classList.toggle("primary", b.dataset.window === window));
    const open = cards.querySelector(".confirm");
    if (!open) cards.replaceChildren(...o.destinations.map(card));
    backlog.replaceChildren(
      h("span", {}, `${t("state.pending")} : `, h("strong", { id: "backlog-pending" }, o.backlog.pending)),
      h("span", {}, `${t("state.blocked")} : `, h("strong", { id: "backlog-blocked" }, o.backlog.blocked)),
      h("span", {}, `${t("state.dead")} : `, h("a", { id: "backlog-dead", href: "#/deliveries?state=dead" }, o.backlog.dead)));
    const to = Date.parse(o.now);
    const from = to - (window === "1h" ? 3600e3 : 86400e3);
    charts.replaceChildren(
      h("div", { class: "panel chart", id: "chart-throughput" }, h("strong", {}, t(window === "1h" ? "chart.throughput" : "chart.throughput24")),
        o.throughput.points.length ? stackedBars(t("chart.throughput"), o.throughput.points, OUTCOMES, o.throughput.bucket_seconds * 1000, from, to)
          : h("p", { class: "muted" }, t("chart.empty")),
        legend(OUTCOMES.map((k) => [k, t(`outcome.${k}`)]))),
      h("div", { class: "panel chart", id: "chart-lag" }, h("strong", {}, t("chart.lag")),
        o.lag.points.length ? lines(t("chart.lag"), o.lag.points, ["p50", "p95", "p99"], from, to) : h("p", { class: "muted" }, t("chart.empty")),
        legend([["p50", "p50"], ["p95", "p95"], ["p99", "p99"]])));
  };
}

function legend(items: string[][]) {
  return h("div", { class: "legend" }, items.map(([k, label]) => h("span", {}, h("i", { class: `k-${k}` }), label)));
}

function card(d: any): HTMLElement {
  const counts = (c: Record<string, number>) => OUTCOMES.filter((k) => c[k]).map((k) => `${t(`outcome.${k}`)} ${c[k]}`).join(" · ") || "0";
  const why = d.paused ? `${t("status.paused")} ${t("card.since")} ${fmtTime(d.paused.since)}${d.paused.by ? ` ${t("card.by")} ${d.paused.by}` : ""} — ${d.paused.reason ?? ""}`
    : d.circuit ? `${t("status.circuit_open")} ${t("card.until")} ${fmtTime(d.circuit.open_until)} — ${d.circuit.reason ?? ""}`
    : d.throttled_until ? `${t("status.throttled")} ${t("card.until")} ${fmtTime(d.throttled_until)}` : "";
  const replayAt = h("input", { type: "datetime-local", name: "replay-since", "aria-label": t("card.replaySince") }) as HTMLInputElement;
  const el = h("section", { class: "card", "data-destination": d.name },
    h("h3", {}, d.name, badge(d.status, t(`status.${d.status}`))),
    why && h("p", { class: "why" }, why),
    h("dl", { class: "kv" },
      h("dt", {}, t("card.hour")), h("dd", { "data-k": "hour" }, counts(d.last_hour)),
      h("dt", {}, t("card.day")), h("dd", { "data-k": "day" }, counts(d.last_day)),
      h("dt", {}, t("card.failure")), h("dd", { "data-k": "failure" }, d.failure_rate === null ? t("none") : `${Math.round(d.failure_rate * 100)} %`),
      h("dt", {}, t("card.oldest")), h("dd", { "data-k": "oldest" }, fmtAge(d.oldest_pending_age_seconds)),
      h("dt", {}, t("card.lastSuccess")), h("dd", { "data-k": "last-success" }, fmtTime(d.last_success_at)),
      h("dt", {}, t("card.backlog")), h("dd", { "data-k": "backlog" }, `${d.backlog.pending} / ${d.backlog.blocked} / `,
        h("a", { href: `#/deliveries?destination=${d.name}&state=dead`, class: "dead-link" }, d.backlog.dead))),
    h("div", { class: "actions" },
      d.paused
        ? h("button", { onclick: () => act("resume", { destination: d.name }) }, t("action.resume"))
        : h("button", { onclick: () => act("pause", { destination: d.name }) }, t("action.pause")),
      d.configured && h("button", { onclick: () => act("test", { destination: d.name }) }, t("action.test")),
      d.configured && h("button", { onclick: () => confirmPanel(el, t("confirm.backfill", { d: d.name }), () => act("backfill", { destination: d.name })) }, t("action.backfill"))),
    d.configured && h("div", { class: "actions" }, replayAt,
      h("button", { onclick: async () => {
        if (!replayAt.value) return replayAt.focus();
        const since = new Date(replayAt.value).toISOString();
        const { count } = await call("/api/count", { action: "replay", since });
        confirmPanel(el, t("confirm.replay", { n: count, d: d.name }), () => act("replay", { destination: d.name, since }));
      } }, t("action.replay"))));
  return el;
}

async function act(action: string, body: Record<string, unknown>) {
  try {
    const r = await call(`/api/actions/${action}`, body);
    if (action === "test") toast(t(r.ok ? "done.test.ok" : "done.test.bad", { m: r.message }));
    else toast(`${t(`action.${action === "send-now" ? "sendNow" : action}`)} — ${t("done.count", { n: r.count ?? 1 })}`);
  } catch (err) {
    toast(`${t("error")}: ${(err as Error).message}`);
  }
  await refresh();
}

// ───────────────────────── deliveries ─────────────────────────
const FILTER_KEYS = ["destination", "state", "type", "status", "since", "until", "q"];

function filterFromHash(): Record<string, string> {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  return Object.fromEntries(FILTER_KEYS.filter((k) => params.get(k)).map((k) => [k, params.get(k)!]));
}

function toLocalInput(iso: string | undefined) {
  if (!iso) return "";
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
}

function deliveriesView() {
  const filter = filterFromHash();
  const select = (name: string, options: string[], label: (o: string) => string) =>
    h("select", { name }, h("option", { value: "" }, t("filter.all")),
      options.map((o) => h("option", { value: o, selected: filter[name] === o }, label(o))));
  const form = h("form", { class: "filters", id: "filters" },
    h("label", {}, t("filter.destination"), select("destination", meta!.configured.concat(filter.destination && !meta!.configured.includes(filter.destination) ? [filter.destination] : []), (o) => o)),
    h("label", {}, t("filter.state"), select("state", meta!.states, (o) => t(`state.${o}`))),
    h("label", {}, t("filter.type"), select("type", meta!.event_types, (o) => o)),
    h("label", {}, t("filter.status"), h("input", { name: "status", inputmode: "numeric", value: filter.status ?? "", size: 5 })),
    h("label", {}, t("filter.since"), h("input", { name: "since", type: "datetime-local", value: toLocalInput(filter.since) })),
    h("label", {}, t("filter.until"), h("input", { name: "until", type: "datetime-local", value: toLocalInput(filter.until) })),
    h("label", {}, t("filter.q"), h("input", { name: "q", type: "search", value: filter.q ?? "", autocomplete: "off" })),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, t("action.apply")),
      h("button", { type: "button", onclick: () => (location.hash = "#/deliveries") }, t("action.reset"))));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form as HTMLFormElement);
    const params = new URLSearchParams();
    for (const k of FILTER_KEYS) {
      let v = String(data.get(k) ?? "").trim();
      if (v && (k === "since" || k === "until")) v = new Date(v).toISOString();
      if (v) params.set(k, v);
    }
    location.hash = `#/deliveries?${params}`;
  });
  const personal = h("input", { type: "checkbox", id: "export-personal" }) as HTMLInputElement;
  const bulk = h("div", { class: "actions", id: "bulk" },
    h("button", { id: "bulk-retry", onclick: () => bulkAction("retry") }, t("action.retryAll")),
    h("button", { id: "bulk-discard", class: "danger", onclick: () => bulkAction("discard") }, t("action.discardAll")),
    h("button", { id: "bulk-send-now", onclick: () => bulkAction("send-now") }, t("action.sendNow")),
    h("button", { id: "export", onclick: () => exportCsv(filter, personal.checked) }, t("action.export")),
    h("label", { class: "muted" }, personal, " ", t("action.exportPersonal")));
  const body = h("tbody", { id: "rows" });
  const more = h("button", { id: "more", hidden: true }, t("action.more"));
  const table = h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, [t("list.created"), t("list.destination"), t("list.type"), t("list.record"), t("list.state"), t("list.attempts"),
      t("list.status"), t("list.error")].map((c, i) => h("th", { class: i === 2 || i === 7 ? "hide-sm" : undefined }, c)))),
    body));
  const panel = h("div", {});
  main().replaceChildren(h("h1", {}, t("list.title")), form, bulk, panel, table, h("div", { class: "actions" }, more));

  async function bulkAction(action: string) {
    try {
      const { count } = await call("/api/count", { action, filter });
      confirmPanel(panel, t(`confirm.${action}`, { n: count }), async () => {
        const r = await call(`/api/actions/${action}`, { filter });
        toast(t("done.count", { n: r.count }));
      });
      panel.querySelector(".confirm")?.setAttribute("data-count", String(count));
    } catch (err) {
      toast(`${t("error")}: ${(err as Error).message}`);
    }
  }

  let cursor: string | null = null;
  let pages = 0;
  const row = (d: any) => h("tr", { class: "delivery", "data-event": d.event_id, "data-destination": d.destination, "data-state": d.state },
    h("td", {}, h("a", { href: `#/delivery/${d.event_id}/${d.destination}` }, fmtTime(d.created_at))),
    h("td", {}, d.destination), h("td", { class: "hide-sm" }, d.type), h("td", {}, h("code", {}, d.record_id.slice(0, 8))),
    h("td", {}, badge(d.state, t(`state.${d.state}`))), h("td", {}, d.attempts), h("td", {}, d.last_status ?? t("none")),
    h("td", { class: "wrap hide-sm" }, (d.last_error ?? "").slice(0, 160)));
  const load = async (append: boolean) => {
    const params = new URLSearchParams({ ...filter, limit: "50" });
    if (append && cursor) params.set("cursor", cursor);
    const page = await call(`/api/deliveries?${params}`);
    const rows = page.rows.map(row);
    if (append) body.append(...rows);
    else body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 8, class: "muted" }, t("list.empty")))]));
    cursor = page.next;
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => { pages++; void load(true); });
  // Live refresh keeps the first page current; once older pages are open, it leaves them be.
  refresh = async () => { if (pages === 0) await load(false); };
}

async function exportCsv(filter: Record<string, string>, personal: boolean) {
  try {
    const res = await fetch("/api/actions/export", {
      method: "POST", headers: { "x-console-token": TOKEN, "content-type": "application/json" }, body: JSON.stringify({ filter, personal }),
    });
    if (!res.ok) throw new Error(String(res.status));
    const url = URL.createObjectURL(await res.blob());
    const a = h("a", { href: url, download: /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? "export.csv" });
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    toast(t("done.count", { n: res.headers.get("x-export-rows") ?? "?" }));
  } catch (err) {
    toast(`${t("error")}: ${(err as Error).message}`);
  }
}

// ───────────────────────── one delivery ─────────────────────────
function deliveryView(eventId: string, destination: string) {
  let revealed: any = null;
  const box = h("div", { id: "delivery" });
  main().replaceChildren(h("h1", {}, t("detail.title")), box);
  const render = (d: any) => {
    const x = d.delivery;
    const data = revealed ?? d.event;
    box.replaceChildren(
      h("div", { class: "panel" },
        h("dl", { class: "kv" },
          h("dt", {}, t("list.destination")), h("dd", {}, x.destination),
          h("dt", {}, t("list.state")), h("dd", { id: "state" }, badge(x.state, t(`state.${x.state}`))),
          h("dt", {}, t("list.type")), h("dd", {}, x.type),
          h("dt", {}, t("list.record")), h("dd", {}, h("a", { href: `#/deliveries?q=${x.record_id}` }, h("code", {}, x.record_id))),
          h("dt", {}, "Event"), h("dd", {}, h("code", {}, x.event_id)),
          h("dt", {}, t("list.created")), h("dd", {}, fmtTime(x.created_at)),
          x.state === "pending" && [h("dt", {}, t("detail.next")), h("dd", {}, fmtTime(x.next_attempt_at))],
          h("dt", {}, t("list.error")), h("dd", { class: "wrap" }, x.last_error ?? t("none"))),
        h("div", { class: "actions" },
          x.state === "dead" && h("button", { class: "primary", id: "retry-one", onclick: () => act("retry", { filter: { event_id: x.event_id, destination: x.destination } }) }, t("action.retry")),
          x.state === "dead" && h("button", { class: "danger", id: "discard-one", onclick: () => act("discard", { filter: { event_id: x.event_id, destination: x.destination } }) }, t("action.discard")),
          x.state === "pending" && h("button", { onclick: () => act("send-now", { filter: { event_id: x.event_id, destination: x.destination } }) }, t("action.sendNow")))),
      h("h2", {}, t("detail.attempts")),
      d.attempts.length
        ? h("ol", { class: "timeline", id: "attempts" }, d.attempts.map((a: any) => h("li", { class: a.outcome, "data-outcome": a.outcome },
          h("strong", {}, `#${a.attempt} ${t(`outcome.${a.outcome}`)}`), " ", a.http_status !== null ? badge(a.http_status < 300 ? "delivered" : "dead", `HTTP ${a.http_status}`) : "",
          " ", h("span", { class: "muted" }, `${fmtTime(a.at)} · ${a.duration_ms} ${t("detail.duration")}`),
          a.error && h("div", { class: "why" }, a.error),
          a.response_excerpt && h("details", {}, h("summary", {}, t("detail.answer")), h("pre", {}, a.response_excerpt)))))
        : h("p", { class: "muted", id: "attempts" }, t("detail.noAttempts")),
      h("h2", {}, t("detail.body")),
      h("p", { class: "muted", id: "masked-note" }, data.masked ? t("detail.masked") : t("detail.revealed"), " ",
        data.masked && h("button", { id: "reveal", onclick: async () => {
          revealed = (await call(`/api/deliveries/${eventId}/${destination}/reveal`, {})).event;
          render(d);
        } }, t("action.reveal"))),
      h("pre", { id: "event-body" }, JSON.stringify(data.data, null, 2)),
      h("h2", {}, t("detail.record")),
      h("div", { class: "table-wrap" }, h("table", { id: "record-deliveries" },
        h("thead", {}, h("tr", {}, ["#", t("list.destination"), t("list.type"), t("list.state"), t("list.attempts"), t("list.created")].map((c) => h("th", {}, c)))),
        h("tbody", {}, d.record_deliveries.map((r: any) => h("tr", { class: r.event_id === eventId && r.destination === destination ? "current" : undefined },
          h("td", {}, r.seq), h("td", {}, r.destination), h("td", {}, r.type),
          h("td", {}, h("a", { href: `#/delivery/${r.event_id}/${r.destination}` }, badge(r.state, t(`state.${r.state}`)))),
          h("td", {}, r.attempts), h("td", {}, fmtTime(r.created_at))))))));
  };
  refresh = async () => render(await call(`/api/deliveries/${eventId}/${destination}`));
}

// ───────────────────────── activity ─────────────────────────
function activityView() {
  const body = h("tbody", { id: "activity" });
  main().replaceChildren(h("h1", {}, t("activity.title")), h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, [t("activity.at"), t("activity.who"), t("activity.what"), t("activity.filter"), t("activity.count"), t("activity.detail")].map((c) => h("th", {}, c)))),
    body)));
  refresh = async () => {
    const { entries } = await call("/api/activity");
    body.replaceChildren(...(entries.length ? entries.map((a: any) => h("tr", { "data-action": a.action },
      h("td", {}, fmtTime(a.at)), h("td", {}, `${a.actor} (${a.source})`), h("td", {}, a.action),
      h("td", { class: "wrap" }, Object.entries(a.filter).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.length}]` : v}`).join(" ") || "—"),
      h("td", {}, a.count ?? t("none")), h("td", { class: "wrap" }, a.detail ?? ""))) : [h("tr", {}, h("td", { colspan: 6, class: "muted" }, t("activity.empty")))]));
  };
}

// ───────────────────────── router ─────────────────────────
async function route() {
  const [path] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  document.querySelectorAll("[data-nav]").forEach((a) =>
    a.classList.toggle("active", (a as HTMLElement).dataset.nav === (parts[0] === "delivery" ? "deliveries" : parts[0] ?? "overview")));
  if (parts[0] === "deliveries") deliveriesView();
  else if (parts[0] === "delivery" && parts[1] && parts[2]) deliveryView(parts[1], parts[2]);
  else if (parts[0] === "activity") activityView();
  else overviewView();
  await tick();
}

async function tick() {
  try {
    await refresh();
    setLive(true);
  } catch (err) {
    setLive(false);
    if (err instanceof ApiError) toast(`${t("error")}: ${err.message}`);
  }
  document.body.dataset.ready = "true";
}

async function start() {
  document.documentElement.lang = lang;
  document.querySelectorAll<HTMLElement>("[data-t]").forEach((e) => (e.textContent = t(e.dataset.t!)));
  document.title = t("title");
  const other = document.getElementById("lang") as HTMLAnchorElement;
  other.textContent = t("other");
  other.href = `?lang=${lang === "en" ? "fr" : "en"}${location.hash}`;
  meta = await call("/api/meta");
  window.addEventListener("hashchange", () => {
    document.body.dataset.ready = "false";
    other.href = `?lang=${lang === "en" ? "fr" : "en"}${location.hash}`;
    void route();
  });
  setInterval(() => void tick(), POLL_MS);
  await route();
}

void start();
