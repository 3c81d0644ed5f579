// A small SVG line chart: one panel per measure, one line per system, the
// cluster size on the x axis. Plain SVG text, so it renders on GitHub and in
// any browser without a charting library.

export interface Series {
  name: string;
  color: string;
  /** y value per x (undefined: no point there). */
  points: Map<number, number | undefined>;
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

const W = 420;
const H = 300;
const PAD = { left: 64, right: 16, top: 36, bottom: 44 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round upper bound for the axis (1, 2 or 5 times a power of ten). */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(1)}k`;
  return v >= 10 ? String(Math.round(v)) : v.toFixed(1);
}

function panel(p: Panel, xs: number[], dx: number): string[] {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const values = p.series.flatMap((s) => [...s.points.values()].filter((v): v is number => v !== undefined));
  const top = niceMax(Math.max(0, ...values));
  const x = (v: number): number => dx + PAD.left + (xs.length === 1 ? plotW / 2 : ((v - xs[0]!) / (xs[xs.length - 1]! - xs[0]!)) * plotW);
  const y = (v: number): number => PAD.top + plotH - (v / top) * plotH;
  const out: string[] = [`<text x="${dx + W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`];
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    out.push(`<line x1="${dx + PAD.left}" x2="${dx + W - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${dx + PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const v of xs) out.push(`<text x="${x(v)}" y="${H - PAD.bottom + 18}" text-anchor="middle">${v}</text>`);
  out.push(`<text x="${dx + PAD.left + plotW / 2}" y="${H - 8}" text-anchor="middle">members</text>`);
  out.push(`<text x="${dx + 14}" y="${PAD.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 ${dx + 14} ${PAD.top + plotH / 2})">${esc(p.unit)}</text>`);
  for (const s of p.series) {
    const pts = xs.flatMap((v) => {
      const val = s.points.get(v);
      return val === undefined ? [] : [[x(v), y(val)] as const];
    });
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`);
    for (const [a, b] of pts) out.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3.5" fill="${s.color}"/>`);
  }
  return out;
}

/** Panels side by side with a shared legend. */
export function lineChart(xs: number[], panels: Panel[], caption: string): string {
  const width = W * panels.length;
  const height = H + 40;
  const body = panels.flatMap((p, i) => panel(p, xs, i * W));
  const legend = (panels[0]?.series ?? []).flatMap((s, i) => [
    `<rect x="${PAD.left + i * 120}" y="${H + 8}" width="14" height="14" fill="${s.color}"/>`,
    `<text x="${PAD.left + i * 120 + 20}" y="${H + 20}">${esc(s.name)}</text>`,
  ]);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(caption)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...body,
    ...legend,
    `<text x="${width - 8}" y="${H + 20}" text-anchor="end" fill="#666">${esc(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
