// The analysis window and what the swing analysis gives back. The window follows the span of the
// records the page holds (history and live) until someone edits it, so the demo's records, dated
// up to hours ahead, are covered without typing; "Whole span" hands it back to the data.
import { fromLocalInput, localTime, toLocalInput, zoneLabel } from './time.js';

/** A batch of the analysis spans five minutes from its first record (lambdas/core/swing-analysis.ts). */
const BATCH_SPAN_MS = 5 * 60_000;

/** The API's batches (include=batches) as the chart draws them: a level over each batch's five minutes. */
export function batchLevels(batches) {
  return batches.map((b) => {
    const start = Date.parse(b.start);
    return { start, end: start + BATCH_SPAN_MS, average: b.average, kept: b.kept };
  });
}

/** The From/To pickers (local time, whole seconds) and the Whole span button. */
export class WindowControls {
  /**
   * @param {object} elements  { start, end, zone, wholeSpan } inputs, zone label and button
   * @param {() => void} onChange  the window changed (typed, dragged, or handed back)
   */
  constructor(elements, onChange) {
    this.el = elements;
    this.onChange = onChange;
    this.edited = false;
    this.last = undefined;
    elements.zone.textContent = zoneLabel();
    for (const input of [elements.start, elements.end]) {
      input.step = '1';
      input.addEventListener('input', () => {
        this.edited = true;
        this.onChange();
      });
    }
    elements.wholeSpan.addEventListener('click', () => {
      this.edited = false;
      this.onChange();
    });
  }

  /** A window picked on the chart (a drag): it counts as edited. */
  set(start, end) {
    this.el.start.value = toLocalInput(Math.floor(start / 1000) * 1000);
    this.el.end.value = toLocalInput(Math.ceil(end / 1000) * 1000);
    this.edited = true;
    this.onChange();
  }

  /**
   * The window in ms. Not edited: the span of the records held, from its first second to the
   * second after its last (a date has microseconds; the pickers, seconds). Edited: the pickers,
   * or the last valid window while they hold something unusable (half-typed, From after To).
   * @param {{ min: number, max: number } | undefined} span
   */
  current(span) {
    if (!this.edited) {
      const now = Date.now();
      const window = span ? { start: Math.floor(span.min / 1000) * 1000, end: Math.floor(span.max / 1000) * 1000 + 1000 } : { start: now - 3_600_000, end: now };
      this.el.start.value = toLocalInput(window.start);
      this.el.end.value = toLocalInput(window.end);
      this.el.zone.textContent = zoneLabel(window.start);
      this.last = window;
      return window;
    }
    const start = fromLocalInput(this.el.start.value);
    const end = fromLocalInput(this.el.end.value);
    const valid = start < end;
    this.el.start.setCustomValidity(valid ? '' : 'From must be before To');
    if (valid) this.last = { start, end };
    return this.last;
  }
}

/** The signal table: local times (the API's ISO in a tooltip), newest batch last. */
export function renderSignals(body, signals) {
  body.replaceChildren(
    ...signals.map((s) => {
      const row = document.createElement('tr');
      const time = document.createElement('td');
      time.textContent = localTime(s.time);
      time.title = s.time;
      const signal = document.createElement('td');
      signal.textContent = `${s.signal === 'positive' ? '▲' : '▼'} ${s.signal}`;
      signal.className = s.signal;
      const average = document.createElement('td');
      // Three decimals are plenty to read; the exact value is in the tooltip.
      average.textContent = String(Math.round(s.average * 1000) / 1000);
      average.title = String(s.average);
      average.className = 'num';
      row.append(time, signal, average);
      return row;
    }),
  );
}
