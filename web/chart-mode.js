// Which picture the main chart shows: every record while the window holds few enough and the
// page holds all of them, else the server's per-bucket aggregates (GET /api/data/series), asked
// for in the background, at most every few seconds while records keep landing.
import { fetchSeries } from './history.js';

/** More records than this in the window, and the chart shows the server's aggregates instead. */
export const RAW_LIMIT = 3000;
const REFRESH_MS = 5_000;

/** What the average lines of an answer are: one, or each user's (and the rest's). */
function averagesOf({ users, otherUsers }) {
  if (!otherUsers && users.length <= 1) return 'average';
  return otherUsers ? `the average of each of the ${users.length} busiest users (and of the ${otherUsers.users} others)` : "each user's average";
}

export class ChartMode {
  /**
   * @param {{ get(path: string, params?: object): Promise<any> }} api
   * @param {() => void} onChange  new aggregates arrived, or it is time to ask again: redraw
   */
  constructor(api, onChange) {
    this.api = api;
    this.onChange = onChange;
    /** The last answer: { userId, bucket, bucketSeconds, buckets, total } or { userId, error }. */
    this.series = undefined;
    this.ask = { at: 0, busy: false, dirty: true, key: undefined, later: undefined };
  }

  /** The view itself changed (window, user, history): ask at once rather than after the pause. */
  invalidate() {
    this.ask.dirty = true;
  }

  stop() {
    clearTimeout(this.ask.later);
    this.ask.busy = true; // nothing more is asked
  }

  /**
   * @param {object} view
   * @param {{ start: number, end: number }} view.window
   * @param {string} view.userId    '' for all users
   * @param {number} view.local     records of the window the page holds
   * @param {boolean} view.complete whether the page holds every record of this scope
   * @param {number} view.version   changes whenever records are added
   * @param {string} view.who       "of all users", "of alice", "of yours"
   * @returns {{ mode: 'raw' | 'aggregate', caption: string, series?: object }}
   */
  choose({ window, userId, local, complete, version, who }) {
    const raw = `${local.toLocaleString()} records ${who}${who === 'of all users' ? ', a line per user' : ''}.`;
    if (complete && local <= RAW_LIMIT) return { mode: 'raw', caption: raw };
    this.request(window, userId, version);
    const s = this.series?.userId === userId ? this.series : undefined;
    if (!s) return { mode: 'raw', caption: `${raw} Checking how many the server holds…` };
    if (s.error) return { mode: 'raw', caption: `${raw} Showing the records loaded only: aggregates unavailable (${s.error}).` };
    if (s.total <= RAW_LIMIT && local >= s.total) return { mode: 'raw', caption: raw };
    return {
      mode: 'aggregate',
      series: s,
      caption: `${s.total.toLocaleString()} records ${who}: too many to draw one by one, so the server's min–max band and ${averagesOf(s)} per ${s.bucket}.`,
    };
  }

  async request(window, userId, version) {
    const ask = this.ask;
    const key = `${userId}|${window.start}|${window.end}|${version}`;
    if (ask.busy || key === ask.key) return;
    const wait = ask.at + REFRESH_MS - Date.now();
    if (!ask.dirty && wait > 0) {
      // Records keep landing: look again once the pause is over, even if they stop meanwhile.
      ask.later ??= setTimeout(() => {
        ask.later = undefined;
        this.onChange();
      }, wait);
      return;
    }
    Object.assign(ask, { busy: true, dirty: false, at: Date.now(), key });
    try {
      this.series = { ...(await fetchSeries(this.api, window, userId)), userId };
    } catch (error) {
      this.series = { userId, error: error.status ? `${error.status}: ${error.message}` : error.message };
    } finally {
      ask.busy = false;
    }
    this.onChange();
  }
}
