// Records per second and accept→stored latency over the last few minutes, from the records
// pushed live (history says nothing about the pipeline now). Per-second buckets keyed by
// arrival time, so memory stays a few hundred entries whatever the rate.
import uPlot from './vendor/uPlot.esm.js';

const SPAN_S = 300;
const MIN_SPAN_S = 60;
const AXIS = { stroke: '#5b6475', grid: { stroke: '#eceff4', width: 1 }, ticks: { stroke: '#dfe3ea', width: 1 } };

export class Throughput {
  constructor() {
    /** second (epoch s) → { n, latencySum } */
    this.seconds = new Map();
    this.last = undefined;
  }

  /** Records pushed live now. */
  add(records, now = Date.now()) {
    const second = Math.floor(now / 1000);
    const bucket = this.seconds.get(second) ?? { n: 0, latencySum: 0 };
    for (const r of records) {
      const latency = Math.max(0, Date.parse(r.stored_at) - Date.parse(r.accepted_at));
      bucket.n++;
      bucket.latencySum += latency;
      this.last = latency;
    }
    this.seconds.set(second, bucket);
  }

  /** Records a second over the last `seconds` seconds. */
  rate(seconds = 10, now = Date.now()) {
    const to = Math.floor(now / 1000);
    let n = 0;
    for (let s = to - seconds + 1; s <= to; s++) n += this.seconds.get(s)?.n ?? 0;
    return n / seconds;
  }

  /**
   * The last few minutes as aligned columns: seconds, records/s, mean latency (null: none). A
   * page open for less than SPAN_S shows the time since its first record (at least MIN_SPAN_S),
   * so a fresh page is not four-fifths empty.
   */
  columns(now = Date.now()) {
    const to = Math.floor(now / 1000);
    for (const s of this.seconds.keys()) if (s <= to - SPAN_S) this.seconds.delete(s);
    this.first ??= this.seconds.keys().next().value;
    const from = Math.max(to - SPAN_S + 1, Math.min(to - MIN_SPAN_S + 1, (this.first ?? to) - 5));
    const xs = [];
    const counts = [];
    const latencies = [];
    for (let s = from; s <= to; s++) {
      const b = this.seconds.get(s);
      xs.push(s);
      counts.push(b?.n ?? 0);
      latencies.push(b ? Math.round(b.latencySum / b.n) : null);
    }
    return [xs, counts, latencies];
  }
}

/** The small chart of a Throughput: bars of records/s (left axis), latency in ms (right axis). */
export class ThroughputChart {
  constructor(container, throughput) {
    this.container = container;
    this.throughput = throughput;
    const size = () => ({ width: Math.max(240, container.clientWidth), height: 170 });
    this.plot = new uPlot(
      {
        ...size(),
        series: [
          {},
          { label: 'records/s', scale: 'n', stroke: '#2457c5', fill: 'rgba(36, 87, 197, 0.35)', paths: uPlot.paths.bars({ size: [1, 6] }), points: { show: false } },
          { label: 'accept→stored ms', scale: 'ms', stroke: '#d9822b', width: 1.5, spanGaps: true, points: { show: false } },
        ],
        scales: { n: { range: (u, min, max) => [0, Math.max(5, max * 1.1)] }, ms: { range: (u, min, max) => [0, Math.max(50, (max ?? 0) * 1.1)] } },
        // Clock times, a tick a minute or so: uPlot's own labels for a few minutes put a date on
        // the first tick, which a narrow card cuts off.
        axes: [{ ...AXIS, space: 70, incrs: [15, 30, 60, 120, 300], values: (u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })) }, { ...AXIS, scale: 'n', size: 40 }, { ...AXIS, scale: 'ms', side: 1, size: 48, grid: { show: false } }],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      throughput.columns(),
      container,
    );
    this.observer = new ResizeObserver(() => this.plot.setSize(size()));
    this.observer.observe(container);
  }

  /** Redraws the last few minutes; called once a second. */
  tick() {
    this.plot.setData(this.throughput.columns());
  }

  destroy() {
    this.observer.disconnect();
    this.plot.destroy();
  }
}
