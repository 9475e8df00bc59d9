/**
 * A line chart of a measure's scale curve (a {@link PlotSpec} from its report) as SVG, rendered to
 * PNG with resvg. Hand-made rather than a charting library: a few axes, curves and bands are all the
 * reports need, and the output is deterministic for the same data (no dates, no randomness).
 */
import { Resvg } from '@resvg/resvg-js';
import type { PlotSpec } from '../support/report.ts';

const W = 800;
const H = 480;
const BASE = { left: 72, right: 24, top: 44, bottom: 64 };
const LEGEND_ROW = 18;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

const esc = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** Round tick values covering [lo, hi]: 1, 2 or 5 times a power of ten apart. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  const end = Math.ceil(hi / step - 1e-9) * step;
  for (let v = Math.floor(lo / step + 1e-9) * step; v <= end + step * 1e-9 && ticks.length < 50; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** 1, 2 and 5 times the powers of ten from below `lo` to above `hi` (both > 0). */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)) && ticks.length < 60; e++)
    for (const m of [1, 2, 5]) ticks.push(Number((m * 10 ** e).toPrecision(12)));
  const first = ticks.findLastIndex((t) => t <= lo);
  const last = ticks.findIndex((t) => t >= hi);
  return ticks.slice(Math.max(0, first), last < 0 ? ticks.length : last + 1);
}

const fmtTick = (v: number) =>
  Math.abs(v) >= 10_000
    ? `${v / 1000}k`
    : Number.isInteger(v)
      ? String(v)
      : v.toPrecision(3).replace(/\.?0+$/, '');

export function plotSvg(spec: PlotSpec): string {
  // the legend sits in two columns between the title and the plot area, never over a curve
  const M = { ...BASE, top: BASE.top + Math.ceil(spec.series.length / 2) * LEGEND_ROW + 6 };
  const all = spec.series.flatMap((s) => [
    ...s.points.map(([x, y]) => ({ x, y })),
    ...(s.band ?? []).flatMap(([x, lo, hi]) => [
      { x, y: lo },
      { x, y: hi },
    ]),
  ]);
  const finite = all.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!spec.logX || p.x > 0));
  const xs = finite.map((p) => p.x);
  const ys = finite.map((p) => p.y);
  const tx = (v: number) => (spec.logX ? Math.log10(v) : v);
  let [x0, x1] = xs.length ? [Math.min(...xs.map(tx)), Math.max(...xs.map(tx))] : [0, 1];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  // a log y axis when the spec asks, or when the data spans more than 20× (a tail would flatten the rest)
  const logY = spec.logY ?? (ys.length > 0 && Math.min(...ys) > 0 && Math.max(...ys) / Math.min(...ys) > 20);
  const ty = (v: number) => (logY ? Math.log10(v) : v);
  const yTicks = logY
    ? logTicks(Math.min(...ys), Math.max(...ys))
    : niceTicks(Math.min(0, ...ys), ys.length ? Math.max(...ys) * 1.05 : 1);
  const [y0, y1] = [ty(yTicks[0]), Math.max(ty(yTicks[yTicks.length - 1]), ty(yTicks[0]) + 1)];
  const px = (x: number) => M.left + ((tx(x) - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - ((ty(y) - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const xTicks = spec.logX
    ? niceTicks(Math.floor(x0), Math.ceil(x1), Math.ceil(x1) - Math.floor(x0))
        .filter((e) => Number.isInteger(e))
        .map((e) => 10 ** e)
        .filter((v) => tx(v) >= x0 - 1e-9 && tx(v) <= x1 + 1e-9)
    : niceTicks(x0, x1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${esc(spec.title)}</text>`,
  ];
  for (const v of yTicks) {
    const y = py(v).toFixed(1);
    out.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`,
      `<text x="${M.left - 8}" y="${y}" dy="4" text-anchor="end" font-size="12">${fmtTick(v)}</text>`,
    );
  }
  for (const v of xTicks) {
    const x = px(v).toFixed(1);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${M.top}" y2="${H - M.bottom}" stroke="#f0f0f0"/>`,
      `<text x="${x}" y="${H - M.bottom + 18}" text-anchor="middle" font-size="12">${fmtTick(v)}</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 18}" text-anchor="middle" font-size="13">${esc(spec.xLabel)}${spec.logX ? ' (log scale)' : ''}</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="13">${esc(spec.yLabel)}${logY ? ' (log scale)' : ''}</text>`,
  );
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const keep = ([x, y]: number[]) =>
      Number.isFinite(x) && Number.isFinite(y) && (!spec.logX || x > 0) && (!logY || y > 0);
    const band = (s.band ?? []).filter(([x, lo, hi]) => keep([x, lo]) && keep([x, hi]));
    if (band.length > 1) {
      const upper = band.map(([x, , hi]) => `${px(x).toFixed(1)},${py(hi).toFixed(1)}`);
      const lower = [...band].reverse().map(([x, lo]) => `${px(x).toFixed(1)},${py(lo).toFixed(1)}`);
      out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.15"/>`);
    }
    const pts = s.points.filter(keep);
    if (pts.length > 1)
      out.push(
        `<polyline points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
      );
    if (pts.length <= 60)
      for (const [x, y] of pts)
        out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${color}"/>`);
    const ly = BASE.top + 10 + Math.floor(i / 2) * LEGEND_ROW;
    const lx = M.left + (i % 2) * ((W - M.left - M.right) / 2);
    out.push(
      `<rect x="${lx}" y="${ly - 6}" width="14" height="4" fill="${color}"/>`,
      `<text x="${lx + 20}" y="${ly}" font-size="12">${esc(s.label)}${band.length > 1 ? ' (band: min–max)' : ''}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

/** The chart as PNG bytes. */
export function plotPng(spec: PlotSpec): Buffer {
  const resvg = new Resvg(plotSvg(spec), {
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    background: '#ffffff',
  });
  return resvg.render().asPng();
}
