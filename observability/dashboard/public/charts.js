// Time-series charts drawn by uPlot (served by the dashboard itself from the installed package:
// nothing is fetched from elsewhere, so the page works offline and under a strict content
// security policy). Legends toggle series (click a name) and show the values under the cursor.
import uPlot from '/vendor/uPlot.esm.js';

const PALETTE = [
  '#58a6ff',
  '#3fb950',
  '#d29922',
  '#f85149',
  '#bc8cff',
  '#39c5cf',
  '#ff9bce',
  '#e3b341',
  '#8b949e',
];
const HEIGHT = 220;
const AXIS = {
  stroke: '#8a97a4',
  grid: { stroke: '#2a3540', width: 1 },
  ticks: { stroke: '#2a3540', width: 1 },
};

export function formatValue(v) {
  if (v === null || v === undefined) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** Every series on one time axis: uPlot wants aligned columns, with null where a series has no point. */
function aligned(series) {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const columns = series.map((s) => {
    const byT = new Map(s.points);
    return xs.map((t) => (byT.has(t) ? byT.get(t) : null));
  });
  return [xs, ...columns];
}

/** What the chart shows, on the figure for tests and tooling: name, points, shown or toggled off. */
function describe(figure, series, hidden) {
  figure.dataset.series = JSON.stringify(
    series.map((s) => ({ name: s.name, points: s.points.length, shown: !hidden.has(s.name) })),
  );
}

/**
 * Draws `series` ([{ name, points: [[unixSeconds, value], ...], dash? }]) into `figure` over
 * [fromT, toT]. The plot is kept while its series stay the same (a refresh only swaps the data);
 * a series the reader toggled off stays off across refreshes and re-draws.
 */
export function timeChart(figure, series, { fromT, toT }) {
  const state = figure.chartState ?? (figure.chartState = { hidden: new Set(), plot: null, key: null });
  state.fromT = fromT;
  state.toT = toT;
  describe(figure, series, state.hidden);
  const empty = figure.querySelector('.empty-chart') ?? figure.appendChild(document.createElement('p'));
  empty.className = 'empty-chart';
  if (series.every((s) => s.points.length === 0)) {
    state.plot?.destroy();
    state.plot = null;
    state.key = null;
    empty.textContent = 'no data in this range yet';
    figure.dataset.empty = 'true';
    return;
  }
  empty.textContent = '';
  delete figure.dataset.empty;
  const data = aligned(series);
  const key = series.map((s) => `${s.name}|${s.dash ?? ''}`).join('\n');
  if (state.plot && state.key === key) {
    state.plot.setData(data);
    return;
  }
  state.plot?.destroy();
  state.key = key;
  state.plot = new uPlot(
    {
      width: Math.max(300, figure.clientWidth - 24),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => [state.fromT, state.toT] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [AXIS, { ...AXIS, size: 56, values: (_u, ticks) => ticks.map(formatValue) }],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.name,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          dash: s.dash ? s.dash.split(' ').map(Number) : undefined,
          show: !state.hidden.has(s.name),
          // a series with a single minute of data is a dot, not an invisible line
          points: { show: (u, si) => u.data[si].filter((v) => v !== null).length < 3 },
          value: (_u, v) => formatValue(v),
        })),
      ],
      hooks: {
        setSeries: [
          (u, i) => {
            if (!i) return;
            const name = u.series[i].label;
            if (u.series[i].show) state.hidden.delete(name);
            else state.hidden.add(name);
            describe(figure, series, state.hidden);
          },
        ],
      },
    },
    data,
    figure,
  );
}

/** Charts follow the page's width. */
export function resizeCharts(figures) {
  for (const f of figures)
    f.chartState?.plot?.setSize({ width: Math.max(300, f.clientWidth - 24), height: HEIGHT });
}
