// The logged-in view: one monitor, the records it delivers (history then live, each once), the
// charts drawn from them, the analysis and the health panel. Built at log-in and torn down at
// log-out, so nothing of one session leaks into the next.
import { batchLevels, renderSignals, WindowControls } from './analysis.js';
import { SeriesChart } from './chart.js';
import { ChartMode } from './chart-mode.js';
import { HealthPanel, StatusBanner } from './health.js';
import { fetchAnalysis, loadHistory } from './history.js';
import { Monitor } from './monitor-client.js';
import { renderRecords, renderUserOptions } from './records-table.js';
import { RecordStore } from './store.js';
import { Throughput, ThroughputChart } from './throughput.js';
import { localTime } from './time.js';

const TABLE_ROWS = 50;
/** Redraws at most this often however fast records come: a chart per record would stall the tab. */
const REDRAW_MS = 250;
/** History waits this long for the socket to open, then loads anyway (the monitor catches up on open). */
const LIVE_WAIT_MS = 5_000;
/** The longest window the swing analysis takes (MAX_WINDOW_DAYS of lambdas/core/query.ts). */
const ANALYSIS_MAX_MS = 366 * 86_400_000;

/**
 * While the window follows the data, live records run the analysis again at most this often:
 * a page opened before `npm run demo` draws the demo's analysis without a click.
 */
const REANALYSE_MS = 5_000;

export class Dashboard {
  /**
   * @param {object} options
   * @param {(id: string) => HTMLElement} options.$
   * @param {{ base: string, ws: string, token: () => string }} options.endpoints
   * @param {{ userId: string, name: string, isAdmin: boolean }} options.principal
   * @param {{ get(path: string, params?: object): Promise<any> }} options.api
   * @param {(message: string) => void} options.end  ends the session (back to the login form)
   */
  constructor({ $, endpoints, principal, api, end }) {
    this.$ = $;
    this.endpoints = endpoints;
    this.principal = principal;
    this.api = api;
    this.end = end;
    this.userId = principal.isAdmin ? '' : principal.userId;
    this.store = new RecordStore();
    this.throughput = new Throughput();
    this.complete = { all: false, users: new Set() };
    this.history = { loading: true, fetched: 0, complete: false, error: undefined };
    this.received = 0;
    this.mode = new ChartMode(api, () => this.scheduleRedraw());
    this.analysis = undefined;
    this.analysisSeq = 0;
    this.listeners = [];
  }

  start() {
    const $ = this.$;
    this.banner = new StatusBanner({ root: $('status'), title: $('status-title'), message: $('status-message'), hint: $('status-hint'), dismiss: $('status-dismiss') });
    this.chart = new SeriesChart($('chart'), { onSelect: (from, to) => this.window.set(from, to) });
    this.throughputChart = new ThroughputChart($('throughput'), this.throughput);
    this.window = new WindowControls({ start: $('start-time'), end: $('end-time'), zone: $('zone'), wholeSpan: $('whole-span') }, () => this.windowChanged());
    this.listen($('analysis'), 'submit', (event) => {
      event.preventDefault();
      this.analyse();
    });
    $('user-filter-label').hidden = !this.principal.isAdmin;
    this.listen($('user-filter'), 'change', () => this.filterChanged($('user-filter').value));
    if (this.principal.isAdmin) {
      this.health = new HealthPanel(
        { root: $('health'), queue: $('health-queue'), inFlight: $('health-inflight'), delayed: $('health-delayed'), dlq: $('health-dlq'), dlqHint: $('health-dlq-hint'), batch: $('health-batch'), failure: $('health-failure'), checked: $('health-checked'), error: $('health-error'), refresh: $('health-refresh') },
        { api: this.api, onStatus: (status, askedAt) => this.banner.clearIfDrained(status, askedAt) },
      ).start();
    }
    this.ticker = setInterval(() => this.tick(), 1_000);
    this.open();
    this.redraw();
    return this;
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.redrawTimer);
    clearTimeout(this.reanalyseTimer);
    this.mode.stop();
    for (const [el, type, fn] of this.listeners) el.removeEventListener(type, fn);
    this.health?.stop();
    this.banner?.hide();
    this.chart?.destroy();
    this.throughputChart?.destroy();
    for (const id of ['records', 'signals']) this.$(id).replaceChildren();
    this.$('analysis-message').textContent = '';
    const filter = this.$('user-filter');
    filter.replaceChildren(filter.options[0]);
    await this.monitor?.stop();
  }

  listen(el, type, fn) {
    el.addEventListener(type, fn);
    this.listeners.push([el, type, fn]);
  }

  /** The socket first, then history: what is stored from the open on comes pushed, so nothing falls between. */
  async open() {
    let live;
    const opened = new Promise((resolve) => {
      live = resolve;
      setTimeout(resolve, LIVE_WAIT_MS);
    });
    this.monitor = new Monitor({
      httpUrl: this.endpoints.base,
      wsUrl: this.endpoints.ws,
      token: this.endpoints.token,
      // Six failed reconnects in a row: most likely the token was refused.
      maxRetries: 6,
      onRecords: (records, how) => this.receive(records, how),
      onFrame: (frame) => {
        if (frame.type === 'status') this.banner.showFrame(frame);
      },
      onState: (name, detail) => {
        // Open, or refused before it ever opened (a token the authorizer rejects, say): either
        // way history loads now, and its answer (a 401 included) speaks for the session.
        if (name === 'live' || (name === 'closed' && !detail?.opened)) live();
        this.monitorState(name, detail);
      },
    }).start();
    await opened;
    if (this.stopped) return;
    await this.loadHistory('');
    if (this.store.added > 1) this.analyse();
  }

  async loadHistory(userId) {
    this.history = { ...this.history, loading: true };
    try {
      const result = await loadHistory(this.monitor, userId);
      if (userId) {
        if (result.complete) this.complete.users.add(userId);
      } else {
        this.complete.all = result.complete;
      }
      this.history = { loading: false, fetched: this.history.fetched + result.fetched, complete: result.complete, error: undefined };
    } catch (error) {
      if (this.stopped) return;
      this.history = { ...this.history, loading: false, error: error.message };
      if (error.status === 401) return this.end('The API refused the session (401); log in again.');
      this.banner.showProblem('History not loaded', error.message);
    }
    this.mode.invalidate();
    // Drawn at once rather than on the next tick: what history says loaded is on the chart.
    this.redraw();
  }

  monitorState(name, detail) {
    // The socket's last events come after log-out has put the login form back: not ours to show.
    if (this.stopped) return;
    const pill = (text, on) => {
      const el = this.$('connection');
      el.textContent = text;
      el.className = `pill ${on ? 'on' : 'off'}`;
    };
    if (name === 'connecting') pill('connecting…', false);
    else if (name === 'live' || name === 'caught-up') pill('live', true);
    else if (name === 'closed') pill('reconnecting…', false);
    else if (name === 'catching-up') pill('catching up…', true);
    else if (name === 'fetch-failed') {
      if (detail.status === 401) return this.end('The API refused the session (401); log in again.');
      this.banner.showProblem('Fetching missed records failed', detail.error);
    } else if (name === 'gave-up') this.end('The connection keeps failing; log in again.');
  }

  receive(records, how) {
    if (this.stopped) return;
    this.received += records.length;
    this.store.add(records);
    if (how === 'history') this.historyCount = (this.historyCount ?? 0) + records.length;
    if (how === 'live') {
      this.throughput.add(records);
      if (!this.window.edited) this.scheduleAnalysis();
    }
    this.scheduleRedraw();
  }

  /** The analysis again, once, REANALYSE_MS from the first live record since the last run. */
  scheduleAnalysis() {
    if (this.reanalyseTimer || this.stopped) return;
    this.reanalyseTimer = setTimeout(() => {
      this.reanalyseTimer = undefined;
      if (!this.window.edited) this.analyse();
    }, REANALYSE_MS);
  }

  /** Once a second: the throughput chart and counters move even when nothing arrives. */
  tick() {
    this.throughputChart.tick();
    this.$('count-rate').textContent = this.throughput.rate(10).toFixed(1);
  }

  windowChanged() {
    this.mode.invalidate();
    // Someone's own action: drawn at once, not throttled as a stream of records is.
    this.redraw();
  }

  async filterChanged(userId) {
    this.userId = userId;
    this.analysis = undefined;
    this.$('signals').replaceChildren();
    this.$('analysis-message').textContent = '';
    this.mode.invalidate();
    this.redraw();
    // One user's history: the 2000 newest of everyone may hold few of theirs.
    if (userId && !this.isComplete(userId)) await this.loadHistory(userId);
    if (this.userId === userId) this.analyse();
  }

  isComplete(userId) {
    return this.store.evicted === 0 && (this.complete.all || (userId !== '' && this.complete.users.has(userId)));
  }

  scheduleRedraw() {
    if (this.redrawTimer || this.stopped) return;
    this.redrawTimer = setTimeout(() => {
      this.redrawTimer = undefined;
      requestAnimationFrame(() => this.redraw());
    }, REDRAW_MS);
  }

  redraw() {
    if (this.stopped) return;
    const window = this.window.current(this.store.span(this.userId));
    const points = this.store.pointsIn(window.start, window.end, this.userId);
    const who = this.principal.isAdmin ? (this.userId ? `of ${this.userId}` : 'of all users') : 'of yours';
    const { mode, caption, series } = this.mode.choose({ window, userId: this.userId, local: points.length, complete: this.isComplete(this.userId), version: this.store.added, who });
    const analysis = this.analysis?.userId === this.userId ? this.analysis : undefined;
    if (mode === 'aggregate') this.chart.draw({ mode, window, buckets: series.buckets, users: series.users, others: series.otherUsers, bucketSeconds: series.bucketSeconds, analysis });
    else this.chart.draw({ mode, window, points, users: this.userId ? [this.userId] : [...this.store.users.keys()], analysis });
    let markers = '';
    if (analysis) {
      const counts = `${this.chart.counts.positive} ▲ positive, ${this.chart.counts.negative} ▼ negative`;
      const same = analysis.window.start === window.start && analysis.window.end === window.end;
      markers = same ? ` Swing analysis: ${counts}.` : ` Swing analysis of an earlier window (${counts}): Analyse to update it.`;
    }
    this.$('chart-caption').textContent = caption + markers;
    this.renderCounters();
    this.renderUsers();
    this.renderTable();
  }

  /** The swing analysis of the window, drawn on the chart and listed below it. */
  async analyse() {
    if (this.stopped) return;
    const seq = ++this.analysisSeq;
    const userId = this.userId;
    const shown = this.window.current(this.store.span(userId));
    // The API analyses at most ANALYSIS_MAX_MS at once: a longer span gets its most recent part.
    const window = shown.end - shown.start > ANALYSIS_MAX_MS ? { start: shown.end - ANALYSIS_MAX_MS, end: shown.end } : shown;
    const clipped = window !== shown ? ' The window spans more than the 366 days an analysis covers: its last 366 days were analysed.' : '';
    const message = this.$('analysis-message');
    message.textContent = 'Analysing…';
    try {
      const result = await fetchAnalysis(this.api, window, userId);
      if (seq !== this.analysisSeq || this.stopped) return;
      const batches = result.batches && batchLevels(result.batches);
      const signals = result.signals.map((s) => ({ t: Date.parse(s.time), signal: s.signal, average: s.average }));
      this.analysis = { userId, window, signals, batches: batches ?? [] };
      renderSignals(this.$('signals'), result.signals);
      const positive = signals.filter((s) => s.signal === 'positive').length;
      const summary = result.message ?? `${signals.length} signals: ${positive} positive, ${signals.length - positive} negative`;
      message.textContent = `${summary} (${localTime(window.start)} to ${localTime(window.end)}).${clipped}${batches ? '' : ' Batch levels not drawn: the window holds more than 10,000 batches.'}`;
      this.redraw();
    } catch (error) {
      if (seq === this.analysisSeq && !this.stopped) message.textContent = error.message;
    }
  }

  renderCounters() {
    const $ = this.$;
    $('count-total').textContent = this.store.added.toLocaleString();
    $('count-history').textContent = (this.historyCount ?? 0).toLocaleString();
    $('count-users').textContent = String(this.store.users.size);
    if (this.throughput.last !== undefined) $('count-latency').textContent = `${this.throughput.last} ms`;
  }

  renderUsers() {
    if (this.principal.isAdmin) renderUserOptions(this.$('user-filter'), this.store.users.keys());
  }

  renderTable() {
    renderRecords(this.$('records'), this.store.recent, this.userId, TABLE_ROWS);
  }

  /** What the page holds and draws, for the tests and for a curious console. */
  snapshot() {
    return {
      records: this.store.added,
      received: this.received,
      ids: [...(this.monitor?.seen ?? [])],
      history: { ...this.history, delivered: this.historyCount ?? 0 },
      chart: { ...this.chart.counts },
      window: this.window.last && { start: new Date(this.window.last.start).toISOString(), end: new Date(this.window.last.end).toISOString(), edited: this.window.edited },
      analysis: this.analysis && { start: new Date(this.analysis.window.start).toISOString(), end: new Date(this.analysis.window.end).toISOString(), signals: this.analysis.signals.length, batches: this.analysis.batches.length },
      userId: this.userId,
      health: this.health?.status,
      banner: this.banner.visible ? this.$('status').textContent.trim() : undefined,
    };
  }
}
