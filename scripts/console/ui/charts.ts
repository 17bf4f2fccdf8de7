/** Inline SVG charts (no library): stacked bars per bucket, and lines. */
const NS = "http://www.w3.org/2000/svg";

export const COLORS: Record<string, string> = {
  delivered: "#1e8a4c", retry: "#b7791f", dead: "#c53030", throttled: "#6b46c1", paused: "#718096", lease_lost: "#a0aec0",
  p50: "#1f5fbf", p95: "#b7791f", p99: "#c53030",
};

function el(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const W = 600, H = 200, L = 40, B = 22, T = 8, R = 8;

function frame(label: string, max: number, from: number, to: number): SVGSVGElement {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label }) as SVGSVGElement;
  for (const f of [0, 0.5, 1]) {
    const y = H - B - f * (H - B - T);
    svg.append(el("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#e2e8f0" }));
    svg.append(el("text", { x: L - 4, y: y + 4, "text-anchor": "end", "font-size": 10, fill: "#5d6577" }, fmtNum(max * f)));
  }
  const time = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  svg.append(el("text", { x: L, y: H - 6, "font-size": 10, fill: "#5d6577" }, time(from)));
  svg.append(el("text", { x: W - R, y: H - 6, "font-size": 10, fill: "#5d6577", "text-anchor": "end" }, time(to)));
  return svg;
}

function fmtNum(n: number): string {
  return n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
}

/** Stacked bars: one per bucket from `from` to `to`. */
export function stackedBars(label: string, points: { t: string; counts: Record<string, number | undefined> }[], keys: string[],
  bucketMs: number, from: number, to: number): SVGSVGElement {
  const n = Math.max(1, Math.round((to - from) / bucketMs));
  const totals = points.map((p) => keys.reduce((s, k) => s + (p.counts[k] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const svg = frame(label, max, from, to);
  const bw = (W - L - R) / n;
  for (const p of points) {
    const i = Math.floor((Date.parse(p.t) - from) / bucketMs);
    if (i < 0 || i >= n) continue;
    let y = H - B;
    for (const k of keys) {
      const v = p.counts[k] ?? 0;
      if (!v) continue;
      const h = (v / max) * (H - B - T);
      y -= h;
      const r = el("rect", { x: L + i * bw + 0.5, y, width: Math.max(1, bw - 1), height: h, fill: COLORS[k] ?? "#999" });
      r.append(el("title", {}, `${k}: ${v}`));
      svg.append(r);
    }
  }
  return svg;
}

/** Lines (one per key) through bucket points. */
export function lines(label: string, points: ({ t: string } & Record<string, number | string>)[], keys: string[],
  from: number, to: number): SVGSVGElement {
  const max = Math.max(0.001, ...points.flatMap((p) => keys.map((k) => Number(p[k]) || 0)));
  const svg = frame(label, max, from, to);
  const x = (t: string) => L + ((Date.parse(t) - from) / Math.max(1, to - from)) * (W - L - R);
  const y = (v: number) => H - B - (v / max) * (H - B - T);
  for (const k of keys) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(Number(p[k]) || 0).toFixed(1)}`).join(" ");
    if (d) svg.append(el("path", { d, fill: "none", stroke: COLORS[k] ?? "#999", "stroke-width": 2 }));
    for (const p of points) {
      const c = el("circle", { cx: x(p.t), cy: y(Number(p[k]) || 0), r: 2.5, fill: COLORS[k] ?? "#999" });
      c.append(el("title", {}, `${k}: ${p[k]} s`));
      svg.append(c);
    }
  }
  return svg;
}
