// Small SVG line charts: no library and nothing fetched from elsewhere, so the page works on a
// machine without internet and under a strict content security policy.

const SVG = 'http://www.w3.org/2000/svg';
const PALETTE = ['#58a6ff', '#3fb950', '#d29922', '#f85149', '#bc8cff', '#39c5cf', '#ff9bce', '#e3b341'];
const WIDTH = 600;
const HEIGHT = 220;
const PAD = { left: 48, right: 8, top: 8, bottom: 22 };

function el(name, attrs = {}, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/** 1, 2 or 5 times a power of ten: steps a reader can add up in their head. */
function niceStep(span, ticks) {
  const raw = span / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / pow;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * pow;
}

function formatValue(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function formatTime(t) {
  return new Date(t * 1000).toTimeString().slice(0, 5);
}

/**
 * Draws `series` ([{ name, points: [[unixSeconds, value], ...] }]) into `figure`, replacing
 * what was there. Every line carries data-series and data-points for tests and tooling.
 */
export function lineChart(figure, series, { fromT, toT } = {}) {
  figure.querySelector('svg')?.remove();
  figure.querySelector('.legend')?.remove();
  const svg = el('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img' });
  figure.appendChild(svg);
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    const t = el('text', { x: WIDTH / 2, y: HEIGHT / 2, 'text-anchor': 'middle' }, svg);
    t.textContent = 'no data in this range yet';
    svg.dataset.empty = 'true';
    return;
  }
  const x0 = fromT ?? Math.min(...all.map((p) => p[0]));
  const x1 = Math.max(toT ?? 0, ...all.map((p) => p[0]), x0 + 60);
  const yMax = Math.max(1, ...all.map((p) => p[1]));
  const step = niceStep(yMax, 4);
  const yTop = Math.ceil(yMax / step) * step;
  const px = (t) => PAD.left + ((t - x0) / (x1 - x0)) * (WIDTH - PAD.left - PAD.right);
  const py = (v) => HEIGHT - PAD.bottom - (v / yTop) * (HEIGHT - PAD.top - PAD.bottom);

  for (let v = 0; v <= yTop + step / 2; v += step) {
    el('line', { class: 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: py(v), y2: py(v) }, svg);
    const label = el('text', { x: PAD.left - 4, y: py(v) + 3, 'text-anchor': 'end' }, svg);
    label.textContent = formatValue(v);
  }
  for (let i = 0; i <= 4; i++) {
    const t = x0 + ((x1 - x0) * i) / 4;
    const label = el('text', { x: px(t), y: HEIGHT - 6, 'text-anchor': 'middle' }, svg);
    label.textContent = formatTime(t);
  }

  const legend = document.createElement('div');
  legend.className = 'legend';
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const points = [...s.points].sort((a, b) => a[0] - b[0]);
    const line = el(
      'polyline',
      {
        fill: 'none',
        stroke: color,
        'stroke-width': 1.5,
        'stroke-dasharray': s.dash ?? 'none',
        points: points.map(([t, v]) => `${px(t).toFixed(1)},${py(v).toFixed(1)}`).join(' '),
      },
      svg,
    );
    line.dataset.series = s.name;
    line.dataset.points = String(points.length);
    if (points.length === 1) {
      const [t, v] = points[0];
      el('circle', { cx: px(t), cy: py(v), r: 2.5, fill: color }, svg);
    }
    const item = document.createElement('span');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = color;
    item.append(swatch, s.name);
    legend.appendChild(item);
  });
  figure.appendChild(legend);
}
