// Pipeline health for admins: GET /api/pipeline/status every few seconds while the tab is
// visible (a hidden tab asks nothing), and the status banner for the WebSocket's status frames.
// The banner stays until it is dismissed or the pipeline is seen drained with an empty
// dead-letter queue: records flowing again do not mean the failed ones were stored.
import { ago, localTime } from './time.js';

const POLL_MS = 5_000;

const count = (n, noun) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function text(el, value, className) {
  el.textContent = value;
  if (className !== undefined) el.className = className;
}

/** The queue and the dead-letter queue are empty: nothing is waiting, failing or set aside. */
export function drained(status) {
  const q = status.queue;
  const d = status.dead_letter_queue;
  return q.visible + q.in_flight + q.delayed === 0 && d.visible + d.in_flight === 0;
}

export class HealthPanel {
  /**
   * @param {Record<string, HTMLElement>} el  root, queue, inFlight, delayed, dlq, batch, failure, checked, error, refresh
   * @param {object} options
   * @param {{ get(path: string): Promise<any> }} options.api
   * @param {(status: object, askedAt: number) => void} [options.onStatus]
   */
  constructor(el, { api, onStatus }) {
    this.el = el;
    this.api = api;
    this.onStatus = onStatus;
    this.status = undefined;
    this.busy = false;
    this.onVisibility = () => this.poll();
    this.onRefresh = () => this.poll();
  }

  start() {
    this.el.root.hidden = false;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.el.refresh.addEventListener('click', this.onRefresh);
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.poll();
    return this;
  }

  stop() {
    clearInterval(this.timer);
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.el.refresh.removeEventListener('click', this.onRefresh);
    this.el.root.hidden = true;
  }

  async poll() {
    if (document.visibilityState !== 'visible' || this.busy) return;
    this.busy = true;
    const askedAt = Date.now();
    try {
      const status = await this.api.get('api/pipeline/status');
      this.status = status;
      this.el.error.hidden = true;
      this.render(status);
      this.onStatus?.(status, askedAt);
    } catch (error) {
      // 403: the token is not an admin's after all; the panel is not for this user.
      if (error.status === 403) return this.stop();
      text(this.el.error, error.status === 404 ? 'This API has no pipeline status (GET /api/pipeline/status answered 404).' : `Pipeline status unavailable: ${error.message}`);
      this.el.error.hidden = false;
    } finally {
      this.busy = false;
    }
  }

  render(s) {
    const dead = s.dead_letter_queue.visible + s.dead_letter_queue.in_flight;
    text(this.el.queue, String(s.queue.visible));
    text(this.el.inFlight, String(s.queue.in_flight));
    text(this.el.delayed, String(s.queue.delayed));
    text(this.el.dlq, String(dead), dead > 0 ? 'bad' : 'good');
    this.el.dlqHint.hidden = dead === 0;
    const b = s.last_batch;
    text(
      this.el.batch,
      b
        ? `${count(b.records, 'record')} (${b.inserted} inserted, ${count(b.duplicates, 'duplicate')}) from ${count(b.messages, 'message')}; insert ${Math.round(b.insert_ms)} ms, lag ${Math.round(b.lag_ms)} ms; ${ago(b.finished_at)}`
        : 'none since the writer started',
    );
    const f = s.last_failure;
    text(
      this.el.failure,
      f ? `${f.reason} (${count(f.messages, 'message')}, ${f.dead_lettered} dead-lettered), ${ago(f.at)}` : 'none',
      f ? (f.dead_lettered > 0 ? 'bad' : 'warn') : '',
    );
    this.el.failure.title = f ? localTime(f.at) : '';
    text(this.el.checked, `checked ${localTime(s.checked_at).slice(11)}`);
  }
}

/** The banner over the dashboard: pipeline status frames and the monitor's own troubles. */
export class StatusBanner {
  /** @param {{ root: HTMLElement, title: HTMLElement, message: HTMLElement, hint: HTMLElement, dismiss: HTMLElement }} el */
  constructor(el) {
    this.el = el;
    this.pipeline = false;
    this.shownAt = 0;
    el.dismiss.addEventListener('click', () => this.hide());
  }

  /** A WebSocket status frame: {level, stage, message, pending, dead_lettered?}. */
  showFrame(frame) {
    if (frame.dead_lettered > 0) {
      this.show(`The records of ${frame.dead_lettered} message(s) went to the dead-letter queue.`, frame.message, true);
      text(this.el.hint, 'They will not be retried. See why with npm run dlq, and move them back with npm run dlq -- --redrive once the cause is fixed.');
      this.el.hint.hidden = false;
    } else {
      this.show(`${frame.stage} ${frame.level}`, `${frame.message} (${frame.pending} records pending)`, true);
    }
  }

  /** Any other trouble worth a banner (history or a catch-up failed). */
  showProblem(title, message) {
    this.show(title, message, false);
  }

  show(title, message, pipeline) {
    text(this.el.title, title);
    text(this.el.message, message);
    this.el.hint.hidden = true;
    this.el.root.hidden = false;
    this.el.root.className = `banner ${pipeline ? 'pipeline' : 'problem'}`;
    this.pipeline = pipeline;
    this.shownAt = Date.now();
  }

  hide() {
    this.el.root.hidden = true;
    this.pipeline = false;
  }

  /** A pipeline banner goes once a status asked for after it shows nothing waiting or dead. */
  clearIfDrained(status, askedAt) {
    if (this.pipeline && !this.el.root.hidden && askedAt > this.shownAt && drained(status)) this.hide();
  }

  get visible() {
    return !this.el.root.hidden;
  }
}
