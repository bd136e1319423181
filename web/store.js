// The records this page holds, kept sorted by their own `date` because that is the chart's x
// axis, while they arrive in store order (and history newest first). Memory is bounded: past
// `cap` points the earliest arrivals go, and the store says it is no longer complete, so the
// chart asks the server for aggregates instead of drawing a partial picture as if it were whole.

/** The first index whose point is later than `t` (points are sorted by t). */
function upperBound(points, t) {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid].t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose point is at `t` or later. */
function lowerBound(points, t) {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class RecordStore {
  /** @param {{ cap?: number, recent?: number }} [options] */
  constructor({ cap = 5000, recent = 200 } = {}) {
    this.cap = cap;
    this.recentCap = recent;
    /** { t (date ms), data, user, id, seq (arrival) }, sorted by t. */
    this.points = [];
    /** The newest stored, newest first: the live table. */
    this.recent = [];
    /** Records per user, over everything ever added (evicted ones too). */
    this.users = new Map();
    /** The span of `date` per user and over all ('' key), over everything ever added. */
    this.spans = new Map();
    this.added = 0;
    this.evicted = 0;
  }

  /** Adds records (each once: the monitor dedupes by id). */
  add(records) {
    // One insert by binary search each; a page of history is appended and sorted once instead.
    const bulk = records.length > 64;
    for (const r of records) {
      const t = Date.parse(r.date);
      const point = { t, data: r.data, user: r.user_id, id: r.id, seq: this.added++ };
      if (bulk) this.points.push(point);
      else this.points.splice(upperBound(this.points, t), 0, point);
      this.users.set(r.user_id, (this.users.get(r.user_id) ?? 0) + 1);
      for (const key of ['', r.user_id]) {
        const span = this.spans.get(key);
        if (!span) this.spans.set(key, { min: t, max: t });
        else {
          if (t < span.min) span.min = t;
          if (t > span.max) span.max = t;
        }
      }
      this.addRecent(r);
    }
    if (bulk) this.points.sort((a, b) => a.t - b.t || a.seq - b.seq);
    // Evict in slices of a tenth so a steady stream does not filter the array on every record.
    if (this.points.length > this.cap * 1.1) {
      const keepFrom = this.added - this.cap;
      const before = this.points.length;
      this.points = this.points.filter((p) => p.seq >= keepFrom);
      this.evicted += before - this.points.length;
    }
  }

  addRecent(r) {
    const stored = Date.parse(r.stored_at);
    const entry = { ...r, storedMs: stored };
    // Newest stored first; among equals, the later arrival first.
    let i = 0;
    while (i < this.recent.length && this.recent[i].storedMs > stored) i++;
    if (i >= this.recentCap) return;
    this.recent.splice(i, 0, entry);
    if (this.recent.length > this.recentCap) this.recent.pop();
  }

  /** The points with start <= t <= end, of one user or all (userId ''). */
  pointsIn(start, end, userId = '') {
    const slice = this.points.slice(lowerBound(this.points, start), upperBound(this.points, end));
    return userId ? slice.filter((p) => p.user === userId) : slice;
  }

  /** min..max of `date` of the records added, of one user or all; undefined when none. */
  span(userId = '') {
    return this.spans.get(userId);
  }

  /** The users seen, most records first. */
  userIds() {
    return [...this.users.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([u]) => u);
  }
}
