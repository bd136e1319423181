// The monitoring protocol, client side (docs/monitoring-protocol.md). Plain JavaScript with no
// imports, so the dashboard loads it as it is and Node (the demo, the tests) imports the same file.
//
// - `records` frames may repeat a record: every record is passed on once, by id.
// - A `missed` frame names a span of stored_at whose records did not all reach this connection:
//   they are fetched from GET /api/data/records?time_field=stored_at.
// - After a reconnect, everything stored since shortly before the newest stored_at seen is
//   fetched the same way: a record stored while no connection was open is not lost either.
// - history() loads the most recent records stored before the page opened, newest first, through
//   the same seen-set, so a record that also comes live is passed on once.
// - A frame of a protocol version this client does not know is set aside, not read: its records
//   are fetched as after a reconnect (the HTTP API has its own version), so none is lost.

/**
 * How far before the newest stored_at seen a catch-up starts. stored_at is when a batch's
 * transaction began, and a batch may commit up to the writer's timeout (30 s) later, so a row
 * committed after the newest one seen can carry an earlier stored_at.
 */
export const CATCH_UP_MARGIN_MS = 60_000;
/** API Gateway closes a connection idle for 10 minutes; a ping also collects a missed frame. */
export const PING_EVERY_MS = 60_000;
/** The monitoring protocol version this client reads (`protocol_version` in every frame). */
export const PROTOCOL_VERSION = 1;
const PAGE_SIZE = 1000;
const WINDOW_MS = 365 * 86_400_000;
/** history() reaches this far past the client's clock: stored_at is the server's clock. */
const CLOCK_SKEW_MS = 86_400_000;

/**
 * The records of a `records` frame, each whole: its group's user_id and stored_at with the
 * record's id, data and date, and its accepted_at (the group's, where it carries none).
 */
export function frameRecords(frame) {
  const records = [];
  for (const group of frame.groups ?? []) {
    for (const r of group.records) {
      records.push({ id: r.id, user_id: group.user_id, data: r.data, date: r.date, accepted_at: r.accepted_at ?? group.accepted_at, stored_at: group.stored_at });
    }
  }
  return records;
}

/** `ms` as canonical ISO-8601 UTC. */
const iso = (ms) => new Date(ms).toISOString();

export class Monitor {
  /**
   * @param {object} options
   * @param {string} options.httpUrl      the HTTP API's base URL
   * @param {string} options.wsUrl        the WebSocket API's URL
   * @param {() => string} options.token  the current access token
   * @param {(records: object[], how: 'live' | 'missed' | 'catch-up' | 'history') => void} options.onRecords  each record once
   * @param {(frame: object) => void} [options.onFrame]   status, error, pong and missed frames
   * @param {(state: string, detail?: object) => void} [options.onState]  connecting, live, closed, catching-up, caught-up, fetch-failed (detail: error, status), gave-up, stopped
   * @param {typeof WebSocket} [options.WebSocket]  a WebSocket class (the global one by default)
   * @param {typeof fetch} [options.fetch]
   * @param {number} [options.pingEveryMs]
   * @param {number} [options.maxRetries]  reconnects in a row without an open before giving up (default: forever)
   * @param {number} [options.minReconnectMs]  the first wait before a reconnect; it doubles up to 15 s (default 500)
   */
  constructor(options) {
    this.options = options;
    this.seen = new Set();
    /** The newest stored_at seen, in ms; undefined until a record or a pong arrives. */
    this.watermarkMs = undefined;
    this.stats = { delivered: 0, repeated: 0, missedFrames: 0, fetched: 0, reconnects: 0, catchUps: 0, unknownFrames: 0 };
    this.socket = undefined;
    this.stopped = false;
    this.retry = 0;
    this.opened = 0;
    this.pending = Promise.resolve();
    /** history() ran before any connection opened: the first open must catch up, as a reconnect does. */
    this.catchUpOnOpen = false;
  }

  /** Opens the connection; reconnects by itself until stop(). */
  start() {
    this.stopped = false;
    this.connect();
    this.pinger = setInterval(() => this.ping(), this.options.pingEveryMs ?? PING_EVERY_MS);
    this.pinger.unref?.();
    return this;
  }

  /** Closes the connection for good; resolves once it is closed and fetches in flight settled. */
  async stop() {
    this.stopped = true;
    clearInterval(this.pinger);
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    if (socket && socket.readyState <= 1) {
      await new Promise((resolve) => {
        const force = setTimeout(resolve, 2_000);
        socket.addEventListener('close', () => resolve(clearTimeout(force)));
        socket.close(1000, 'monitor stopped');
      });
    }
    await this.pending;
    this.state('stopped');
  }

  /** Work queued after what is queued: catch-ups and missed fetches run one at a time. */
  enqueue(work) {
    this.pending = this.pending.then(work).catch((error) => this.state('fetch-failed', { error: String(error?.message ?? error), status: error?.status }));
    return this.pending;
  }

  ping() {
    if (this.socket?.readyState === 1) this.socket.send('{"action":"ping"}');
  }

  state(name, detail) {
    this.options.onState?.(name, detail);
  }

  connect() {
    const WS = this.options.WebSocket ?? globalThis.WebSocket;
    const url = new URL(this.options.wsUrl);
    url.searchParams.set('token', this.options.token());
    const socket = new WS(url.toString());
    this.socket = socket;
    let open = false;
    this.state('connecting');
    socket.addEventListener('open', () => {
      open = true;
      this.retry = 0;
      const reconnected = this.opened++ > 0;
      this.state('live', { reconnected });
      this.ping();
      // The new connection is registered before it opens: from here on, records come live.
      const owed = reconnected || this.catchUpOnOpen;
      this.catchUpOnOpen = false;
      if (owed) this.enqueue(() => this.catchUp());
    });
    socket.addEventListener('message', (event) => this.onMessage(event.data));
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      this.state('closed', { code: event.code, opened: open });
      if (this.stopped) return;
      this.retry++;
      if (this.options.maxRetries !== undefined && this.retry > this.options.maxRetries) {
        this.stopped = true;
        return this.state('gave-up', { retries: this.retry - 1 });
      }
      this.stats.reconnects++;
      const delay = Math.min(15_000, (this.options.minReconnectMs ?? 500) * 2 ** Math.min(this.retry - 1, 5));
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
      this.reconnectTimer.unref?.();
    });
    // Errors end in a close event; nothing more to do here.
    socket.addEventListener('error', () => {});
  }

  onMessage(data) {
    let frame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    // A shape this client cannot read: fetch what it may have carried instead of guessing.
    if (frame.protocol_version !== undefined && frame.protocol_version !== PROTOCOL_VERSION) {
      this.stats.unknownFrames++;
      this.enqueue(() => this.catchUp());
      return;
    }
    if (frame.type === 'records') return this.deliver(frameRecords(frame), 'live');
    if (frame.type === 'pong' && this.watermarkMs === undefined && typeof frame.time === 'string') this.watermarkMs = Date.parse(frame.time);
    if (frame.type === 'missed') {
      this.stats.missedFrames++;
      this.enqueue(() => this.fetchSpan(frame.stored_from, frame.stored_to, 'missed'));
    }
    this.options.onFrame?.(frame);
  }

  /** Passes on the records not seen before; moves the watermark. */
  deliver(records, how) {
    const fresh = [];
    for (const r of records) {
      const stored = Date.parse(r.stored_at);
      if (!(this.watermarkMs >= stored)) this.watermarkMs = stored;
      if (this.seen.has(r.id)) {
        this.stats.repeated++;
        continue;
      }
      this.seen.add(r.id);
      fresh.push(r);
    }
    this.stats.delivered += fresh.length;
    if (fresh.length > 0) this.options.onRecords(fresh, how);
  }

  /** After a reconnect: everything stored since shortly before the newest stored_at seen. */
  async catchUp() {
    const from = (this.watermarkMs ?? Date.now()) - CATCH_UP_MARGIN_MS;
    this.stats.catchUps++;
    this.state('catching-up', { from: iso(from) });
    const count = await this.fetchSpan(iso(from), iso(from + WINDOW_MS), 'catch-up');
    this.state('caught-up', { fetched: count });
  }

  /**
   * The most recent records stored before now, newest first (GET /api/data/records with
   * time_field=stored_at&order=desc), up to `limit`, delivered as 'history' through the seen-set.
   * Call it once the connection is live: everything stored from then on comes pushed, so history
   * plus live leaves no gap; a record in both is passed on once. Called before any connection
   * opened, the first open catches up as a reconnect does. Runs after the fetches queued before
   * it; rejects when a page fails (the caller says so), without stopping the monitor.
   * @param {object} [options]
   * @param {number} [options.limit]   at most this many records (default 2000)
   * @param {string} [options.userId]  one user's records (an admin's filter)
   * @returns {Promise<{ fetched: number, complete: boolean }>} complete: nothing older is left
   */
  history({ limit = 2000, userId } = {}) {
    const run = this.pending.then(async () => {
      if (this.opened === 0) this.catchUpOnOpen = true;
      const to = Date.now() + CLOCK_SKEW_MS;
      const query = { time_field: 'stored_at', order: 'desc', start_time: iso(to - WINDOW_MS), end_time: iso(to) };
      if (userId) query.user_id = userId;
      let cursor;
      let fetched = 0;
      do {
        const page = await this.fetchPage({ ...query, limit: String(Math.min(PAGE_SIZE, limit - fetched)) }, cursor, 'history');
        fetched += page.records.length;
        this.deliver(page.records, 'history');
        cursor = page.next_cursor;
      } while (cursor && fetched < limit && !this.stopped);
      return { fetched, complete: !cursor };
    });
    // The queue goes on whatever happens to this run; its caller gets the outcome.
    this.pending = run.then(() => undefined, () => undefined);
    return run;
  }

  /** One page of GET /api/data/records; a failure carries the HTTP status. */
  async fetchPage(query, cursor, how) {
    const fetcher = this.options.fetch ?? globalThis.fetch;
    const params = new URLSearchParams(query);
    if (cursor) params.set('cursor', cursor);
    const answer = await fetcher(new URL(`api/data/records?${params}`, this.options.httpUrl.replace(/\/?$/, '/')), {
      headers: { authorization: `Bearer ${this.options.token()}` },
    });
    if (!answer.ok) throw Object.assign(new Error(`fetching ${how} records failed: ${answer.status} ${await answer.text()}`), { status: answer.status });
    const page = await answer.json();
    this.stats.fetched += page.records.length;
    return page;
  }

  /** Pages through the records stored in [from, to] that this caller may see. */
  async fetchSpan(from, to, how) {
    let cursor;
    let count = 0;
    do {
      const page = await this.fetchPage({ time_field: 'stored_at', start_time: from, end_time: to, limit: String(PAGE_SIZE) }, cursor, how);
      count += page.records.length;
      this.deliver(page.records, how);
      cursor = page.next_cursor;
    } while (cursor && !this.stopped);
    return count;
  }
}
