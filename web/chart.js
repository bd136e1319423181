// The main chart: `data` by the record's own `date`, one line per user (or the server's per-bucket
// min/max band and average when the window holds too many records to draw one by one), with the
// swing analysis on top: each batch's average as a flat segment, signals as triangles.
// uPlot wants one x array shared by every series ("aligned data"); each source below becomes
// rows of (x, series, y) merged by x, and a series holds `undefined` where another series has a
// row, which uPlot skips, so lines run across other series' points. A `null` is a real gap.
import uPlot from './vendor/uPlot.esm.js';

const USER_COLOURS = ['#2457c5', '#d9822b', '#7b4fc9', '#1b998b', '#c2185b', '#6d7a00', '#00838f', '#8d6e63'];
/** More users than this, and the rest share one series of dots (a legend of 50 lines helps no one). */
const MAX_USER_LINES = 7;
const POSITIVE = { stroke: '#116b30', fill: '#1faa50' };
const NEGATIVE = { stroke: '#8f1d17', fill: '#e0443a' };
const AXIS = { stroke: '#5b6475', grid: { stroke: '#eceff4', width: 1 }, ticks: { stroke: '#dfe3ea', width: 1 } };
/** The y axis is never narrower than this, so that the chart does not jump for small values. */
const MIN_Y_AXIS_PX = 48;

/**
 * The y axis's width: its widest label, measured in the axis's own font, plus its ticks and gap,
 * so that values in the millions show whole (a fixed width cut "8,100,000" to "0,000"). Kept in
 * `fit` for the tests: the width given beside the widest label's.
 */
function yAxisSize(fit) {
  return (u, values, axisIndex, cycle) => {
    const axis = u.axes[axisIndex];
    // uPlot asks again while the axes settle; after the first cycle the width stays put.
    if (cycle > 1 && fit.size) return fit.size;
    u.ctx.font = axis.font?.[0] ?? u.ctx.font;
    const label = Math.max(0, ...(values ?? []).map((v) => u.ctx.measureText(String(v)).width / uPlot.pxRatio));
    const size = Math.max(MIN_Y_AXIS_PX, Math.ceil(label + (axis.ticks?.size ?? 10) + (axis.gap ?? 5) + 4));
    Object.assign(fit, { size, label: Math.ceil(label), widest: (values ?? []).reduce((w, v) => (String(v).length > w.length ? String(v) : w), '') });
    return size;
  };
}

/** Signals drawn as triangles (up for positive, down for negative) centred on the batch average. */
function triangles(up) {
  return (u, si, i0, i1) => {
    const path = new Path2D();
    const r = 6 * uPlot.pxRatio;
    const xs = u.data[0];
    const ys = u.data[si];
    for (let i = i0; i <= i1; i++) {
      if (ys[i] == null) continue;
      const x = u.valToPos(xs[i], 'x', true);
      const y = u.valToPos(ys[i], 'y', true);
      const tip = up ? -r : r;
      path.moveTo(x, y + tip);
      path.lineTo(x + r * 0.9, y - tip * 0.7);
      path.lineTo(x - r * 0.9, y - tip * 0.7);
      path.closePath();
    }
    return { stroke: path, fill: path, clip: null, band: null, gaps: null, flags: 0 };
  };
}

/** Rows of [x (s), series index, y] sorted by x (stably) into uPlot's aligned columns. */
function align(rows, seriesCount) {
  rows.sort((a, b) => a[0] - b[0]);
  const data = [rows.map((r) => r[0])];
  for (let s = 1; s <= seriesCount; s++) data.push(new Array(rows.length).fill(undefined));
  rows.forEach(([, s, y], i) => {
    data[s][i] = y;
  });
  return data;
}

/**
 * A user's line breaks where its records are further apart than this share of the window:
 * records from 2003 and 2044 are two islands, not one straight line across four decades.
 */
const RAW_GAP_SHARE = 1 / 50;

/**
 * uPlot's `gaps` hook for a series: besides its null gaps, a gap wherever two of its points lie
 * over `seconds` apart, so that its line (and a band edge) stops there instead of running
 * across a stretch with no data. uPlot clips the path to these pixel spans.
 */
function gapsWider(seconds) {
  return (u, seriesIndex, i0, i1, nullGaps) => {
    const px = (x) => Math.round(u.valToPos(x, 'x', true));
    const wide = gapSpans(u.data[0], u.data[seriesIndex], seconds, i0, i1).map(([from, to]) => [px(from) + 1, px(to) - 1]);
    return [...nullGaps, ...wide].sort((a, b) => a[0] - b[0]);
  };
}

/** The stretches `[x, x]` (s) over `seconds` long between consecutive points of one aligned series. */
function gapSpans(xs, ys, seconds, i0 = 0, i1 = xs.length - 1) {
  const spans = [];
  let previous;
  for (let i = i0; i <= i1; i++) {
    if (ys[i] == null) continue;
    if (previous !== undefined && xs[i] - xs[previous] > seconds) spans.push([xs[previous], xs[i]]);
    previous = i;
  }
  return spans;
}

/** The series and rows of raw records: a line per user, the quieter ones as shared dots. */
function rawLayout({ points, users, window }) {
  const lines = users.length > MAX_USER_LINES + 1 ? users.slice(0, MAX_USER_LINES) : users;
  const index = new Map(lines.map((u, i) => [u, i + 1]));
  const gap = ((window.end - window.start) / 1000) * RAW_GAP_SHARE;
  const series = lines.map((u, i) => ({ label: u, stroke: USER_COLOURS[i % USER_COLOURS.length], width: 1.25, points: { size: 5 }, gaps: gapsWider(gap) }));
  let others = 0;
  if (lines.length < users.length) {
    series.push({ label: `${users.length - lines.length} other users`, stroke: '#9aa3b2', paths: () => null, points: { show: true, size: 4, fill: '#9aa3b2' } });
    others = series.length;
  }
  const rows = points.map((p) => [p.t / 1000, index.get(p.user) ?? others, p.data]);
  // The breaks counted are the users' lines' (the shared dots draw no line).
  return { series, bands: [], rows, gapSeconds: gap, counted: lines.map((_, i) => i + 1) };
}

/**
 * The series and rows of the server's buckets: everyone's min..max band, and an average line per
 * user the server named (the others' average as shared dots), or one average line when the
 * answer is one user's.
 */
function aggregateLayout({ buckets, users = [], others = null, bucketSeconds }) {
  const band = 'rgba(36, 87, 197, 0.14)';
  // Empty buckets are a gap in the band and the lines, not a straight line across them.
  const gapSeconds = bucketSeconds * 1.5;
  const gaps = gapsWider(gapSeconds);
  const edge = { stroke: 'rgba(36, 87, 197, 0.35)', width: 1, points: { show: false }, gaps };
  const series = [
    { label: 'max', ...edge },
    { label: 'min', ...edge },
  ];
  // Its points show where buckets are few: a lone bucket between empty ones is a dot.
  const averages = users.length > 1 || others ? users.map((u, i) => ({ label: u.user_id, stroke: USER_COLOURS[i % USER_COLOURS.length], buckets: u.buckets })) : [{ label: 'average', stroke: '#2457c5', buckets }];
  for (const a of averages) series.push({ label: a.label, stroke: a.stroke, width: averages.length > 1 ? 1.5 : 2, points: { size: 5 }, gaps });
  if (others) series.push({ label: `${others.users} other users`, stroke: '#9aa3b2', paths: () => null, points: { show: true, size: 4, fill: '#9aa3b2' } });
  // A bucket is drawn at its middle: the average of a day is not the value at midnight.
  const x = (b) => Date.parse(b.start) / 1000 + bucketSeconds / 2;
  const rows = buckets.flatMap((b) => [
    [x(b), 1, b.max],
    [x(b), 2, b.min],
  ]);
  averages.forEach((a, i) => a.buckets.forEach((b) => rows.push([x(b), 3 + i, b.avg])));
  for (const b of others?.buckets ?? []) rows.push([x(b), series.length, b.avg]);
  return { series, bands: [{ series: [1, 2], fill: band }], rows, gapSeconds, counted: averages.map((_, i) => 3 + i) };
}

/** The analysis series: batch averages as separate flat segments, then the two kinds of signal. */
function analysisLayout(first, { batches = [], signals = [] }) {
  const series = [
    { label: 'batch average (5 min)', stroke: '#1d2330', width: 2, points: { show: false } },
    { label: 'positive swing', stroke: POSITIVE.stroke, fill: POSITIVE.fill, width: 1, paths: triangles(true), points: { show: false } },
    { label: 'negative swing', stroke: NEGATIVE.stroke, fill: NEGATIVE.fill, width: 1, paths: triangles(false), points: { show: false } },
  ];
  const rows = [];
  for (const b of batches) {
    // A null after each segment keeps one batch's level from sloping into the next one's.
    rows.push([b.start / 1000, first, b.average], [b.end / 1000, first, b.average], [b.end / 1000, first, null]);
  }
  for (const s of signals) rows.push([s.t / 1000, s.signal === 'positive' ? first + 1 : first + 2, s.average]);
  return { series, rows };
}

function chartHeight(width) {
  return Math.round(Math.min(380, Math.max(220, width * 0.38)));
}

export class SeriesChart {
  /**
   * @param {HTMLElement} container
   * @param {{ onSelect: (startMs: number, endMs: number) => void }} options  a drag across the chart
   */
  constructor(container, { onSelect }) {
    this.container = container;
    this.onSelect = onSelect;
    this.plot = undefined;
    this.signature = '';
    this.window = { start: Date.now() - 3_600_000, end: Date.now() };
    /** What is drawn, for the page's debug handle and the tests. */
    this.counts = { mode: 'raw', points: 0, positive: 0, negative: 0, series: [] };
    /** The y axis's width and its widest label, as last laid out. */
    this.yAxis = { size: 0, label: 0, widest: '' };
    // Charts follow their card's width (a phone turned, a window resized).
    this.observer = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.observer.observe(container);
  }

  size() {
    const width = Math.max(240, this.container.clientWidth);
    return { width, height: chartHeight(width) };
  }

  /**
   * @param {object} model
   * @param {'raw' | 'aggregate'} model.mode
   * @param {{ start: number, end: number }} model.window  ms, the x range shown
   * @param {object[]} [model.points]   raw: { t, data, user }, sorted by t
   * @param {string[]} [model.users]    raw: one series each, in this order
   * @param {object[]} [model.buckets]  aggregate: GET /api/data/series buckets
   * @param {object[]} [model.users]     aggregate: its `users` (group_by=user), a line each
   * @param {object} [model.others]      aggregate: its `other_users`, as dots
   * @param {number} [model.bucketSeconds]
   * @param {{ batches: object[], signals: object[] }} [model.analysis]
   */
  draw(model) {
    this.window = model.window;
    const base = model.mode === 'aggregate' ? aggregateLayout(model) : rawLayout(model);
    const analysis = analysisLayout(base.series.length + 1, model.analysis ?? {});
    const series = [{}, ...base.series, ...analysis.series];
    const data = align([...base.rows, ...analysis.rows], series.length - 1);
    const signature = `${model.mode}|${series.map((s) => s.label).join('|')}`;
    if (signature !== this.signature || !this.plot) {
      this.plot?.destroy();
      this.plot = new uPlot(this.options(series, base.bands), data, this.container);
      this.signature = signature;
    } else {
      this.plot.setData(data);
    }
    const count = (s) => data[s].filter((y) => y != null).length;
    const markers = base.series.length + 2;
    this.counts = {
      mode: model.mode,
      points: model.mode === 'aggregate' ? model.buckets.reduce((n, b) => n + b.count, 0) : base.rows.length,
      positive: count(markers),
      negative: count(markers + 1),
      series: series.slice(1).map((s) => s.label),
      gaps: base.counted.reduce((n, s) => n + gapSpans(data[0], data[s], base.gapSeconds).length, 0),
      yAxis: this.yAxis,
    };
  }

  options(series, bands) {
    return {
      ...this.size(),
      series,
      bands,
      // The x range is the window the page shows, not the data's extent: the same window the
      // analysis covers, so markers and records line up with the pickers.
      scales: { x: { time: true, range: () => [this.window.start / 1000, this.window.end / 1000] } },
      axes: [{ ...AXIS }, { ...AXIS, size: yAxisSize(this.yAxis) }],
      legend: { live: true },
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const from = u.posToVal(u.select.left, 'x') * 1000;
            const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.onSelect(from, to);
          },
        ],
      },
    };
  }

  destroy() {
    this.observer.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
  }
}
