/**
 * bench/latency.png: latency by percentile. One closed-loop panel per bridge
 * mode, each beside the plain waitUntil baseline (same CRM condition where
 * the baseline has it) and the bridge-off floor; then the fixed-rate runs.
 * (vega-lite → vega SVG → resvg PNG, all server-side.)
 */
import { writeFile } from "node:fs/promises";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vl from "vega-lite";
import type { ModeSummary, Results } from "./summary.ts";

const FONT = "DejaVu Sans";
const TICKS = [25, 50, 75, 90, 95, 99, 99.9];
const nines = (p: number) => -Math.log10(1 - p / 100);

function points(modes: ModeSummary[]) {
  return modes.flatMap((m) =>
    m.curve
      .filter((c) => c.p >= 10)
      .map((c) => ({ mode: m.label, design: m.baseline ? "baseline (bench only)" : "product", x: nines(c.p), p: c.p, ms: Math.max(c.ms, 0.1) })),
  );
}

function panel(title: string, modes: ModeSummary[], domain: string[]) {
  return {
    title: { text: title, fontSize: 14 },
    width: 470,
    height: 330,
    data: { values: points(modes) },
    mark: { type: "line", point: { size: 28 }, strokeWidth: 2 },
    encoding: {
      x: {
        field: "x",
        type: "quantitative",
        title: "percentile",
        scale: { domain: [nines(10), nines(99.9)] },
        axis: {
          values: TICKS.map(nines),
          labelExpr: "format((1 - pow(10, -datum.value)) * 100, '.3~r')",
          grid: true,
        },
      },
      y: { field: "ms", type: "quantitative", title: "latency (ms, log scale)", scale: { type: "log" } },
      color: { field: "mode", type: "nominal", title: "mode", scale: { domain, scheme: "tableau10" }, sort: domain },
      strokeDash: {
        field: "design",
        type: "nominal",
        title: "design",
        scale: { domain: ["product", "baseline (bench only)"], range: [[1, 0], [6, 3]] },
        legend: null, // said in the subtitle: a dashed legend symbol does not render here
      },
      tooltip: [{ field: "mode" }, { field: "p" }, { field: "ms" }],
    },
  };
}

/** The bridge modes, each shown with its plain waitUntil baseline and the floor. */
const PANELS: Array<{ mode: string; baseline: string }> = [
  { mode: "on-ok", baseline: "waituntil-ok" },
  { mode: "on5-ok", baseline: "waituntil-ok" },
  { mode: "on-slow", baseline: "waituntil-slow" },
  { mode: "on-down", baseline: "waituntil-ok" },
];

export async function renderChart(r: Results, file: string): Promise<void> {
  const domain = [...r.closed, ...r.fixedRate.modes].map((m) => m.label).filter((l, i, all) => all.indexOf(l) === i);
  const pick = (ids: string[], list: ModeSummary[]) => ids.map((id) => list.find((m) => m.id === id)).filter((m): m is ModeSummary => Boolean(m));
  const panels = PANELS.filter((p) => r.closed.some((m) => m.id === p.mode)).map((p) => {
    const spec = panel(`closed loop: ${r.closed.find((m) => m.id === p.mode)!.label}`, pick([p.mode, p.baseline, "off"], r.closed), domain);
    return { ...spec, width: 330, height: 230 };
  });
  const rows = [];
  for (let i = 0; i < panels.length; i += 2) rows.push({ hconcat: panels.slice(i, i + 2) });
  rows.push({ hconcat: [{ ...panel(`fixed rate, ${r.fixedRate.rate} req/s`, r.fixedRate.modes, domain), width: 700, height: 260 }] });
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: "form-start + form-submit latency by percentile",
      subtitle: `${r.machine.cpus} CPU, ${r.settings.rounds} rounds × ${r.settings.seconds} s per mode, ${r.settings.connections} connections (closed loop); bridge off = the floor; dashed = baselines, the study's alternatives (bench only)`,
      fontSize: 16,
    },
    vconcat: rows,
    resolve: { scale: { color: "shared", y: "independent" } },
    config: { font: FONT, legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 320 }, axis: { labelFontSize: 11, titleFontSize: 12 } },
    background: "white",
    padding: 12,
  };
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: FONT },
    fitTo: { mode: "zoom", value: 1.5 },
    background: "white",
  }).render().asPng();
  await writeFile(file, png);
}
