/// <reference lib="dom" />
/**
 * The dashboard's charts, analysis and pipeline panel in a real browser against the local stack:
 * demo-like data drawn and screenshotted at laptop and phone size, the analysis's signals marked
 * on the chart for a window typed in local time, and dead letters shown in the health panel and
 * the status banner. With DASHBOARD_DOCS=1 the laptop screenshot is also written to
 * docs/dashboard.png (the picture in docs/dashboard.md).
 */
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoConnectionRegistry } from '../../lambdas/adapters/dynamo-connection-registry';
import { localDocumentClient } from '../../local/services';
import { demoRecords } from '../../bin/demo-support';
import { connectMonitor, login, startTestStack } from '../support/stack';
import { chromiumAvailable, LAPTOP, launchChromium, logInThroughForm, newPage, OUTPUT_DIR, PHONE, recordsAt, screenshot, upload, waitForSnapshot } from './support';

/** A small seeded generator, so the screenshots show the same data every run. */
function seeded(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Swing {
  signals: { time: string; signal: 'positive' | 'negative'; average: number }[];
  message: string | null;
}

describe.skipIf(!chromiumAvailable)("the dashboard's charts, analysis and pipeline panel", () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let browser: Browser;
  let token: string;
  let admin: Awaited<ReturnType<typeof newPage>>;
  let page: Page;

  const swing = async (start: string, end: string, userId?: string): Promise<Swing> => {
    const query = new URLSearchParams({ start_time: start, end_time: end, ...(userId ? { user_id: userId } : {}) });
    return (await (await fetch(`${stack.httpUrl}/api/data/swing-analyze?${query}`, { headers: { authorization: `Bearer ${token}` } })).json()) as Swing;
  };
  /** Sends a frame to every open monitor, as the batch writer's broadcaster does. */
  const pushFrame = async (frame: object) => {
    const registry = new DynamoConnectionRegistry(localDocumentClient(stack.dynamoEndpoint), stack.tableName);
    for (const c of await registry.list(0)) await fetch(`${stack.ws.managementEndpoint}/@connections/${c.connectionId}`, { method: 'POST', body: JSON.stringify(frame) });
  };

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startTestStack(), launchChromium()]);
    token = await login(stack.httpUrl);
    await (await connectMonitor(stack.wsUrl, token)).close(); // starts the authorizer once, outside the tests' waits
    // A zone with an offset, so a window typed in local time must be converted to be right.
    admin = await newPage(browser, { timezoneId: 'Europe/Berlin', viewport: LAPTOP });
    page = admin.page;
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.cleanup();
  });

  it('draws demo-like data from history and live with its analysis, at laptop and phone size', async () => {
    // Arrange: as `npm run demo` sends them (one a minute from now, values 1..100), for two
    // users; half stored before the page opens, half while it watches.
    const start = Math.ceil(Date.now() / 60_000) * 60_000;
    const alice = (await stack.identity.tokenFor('alice', false)).access_token;
    const parsaRecords = demoRecords(start, 0, 240, seeded(7));
    const aliceRecords = parsaRecords.map((r, i) => ({ date: new Date(Date.parse(r.date) + 30_000).toISOString(), data: Math.round(50 + 30 * Math.sin(i / 12) + 10 * seeded(i)()) }));
    await Promise.all([upload(stack.httpUrl, token, parsaRecords.slice(0, 120)), upload(stack.httpUrl, alice, aliceRecords.slice(0, 120))]);
    await expect.poll(async () => Number((await stack.pool.query('SELECT count(*) FROM records')).rows[0].count), { timeout: 10_000 }).toBe(240);

    // Act: open the page; the rest arrives live, a few uploads at a time.
    await logInThroughForm(page, stack.httpUrl);
    for (let i = 120; i < 240; i += 30) {
      await Promise.all([upload(stack.httpUrl, token, parsaRecords.slice(i, i + 30)), upload(stack.httpUrl, alice, aliceRecords.slice(i, i + 30))]);
    }
    const drawn = await waitForSnapshot(page, (s) => s.chart.points === 480);
    await page.click('#analysis button[type=submit]');
    const end = await waitForSnapshot(page, (s) => s.analysis?.start === drawn.window.start && s.analysis.end === drawn.window.end);

    // Assert: both users drawn, the window is the records' span, the markers are the API's signals.
    expect(end.chart.series.slice(0, 2).sort()).toEqual(['alice', 'parsa']);
    expect(Date.parse(end.window.start)).toBe(start);
    expect(end.window.edited).toBe(false);
    const answer = await swing(end.analysis!.start, end.analysis!.end);
    expect(answer.signals.length).toBeGreaterThan(0);
    expect(end.chart.positive + end.chart.negative).toBe(answer.signals.length);
    expect(end.analysis!.batches).toBeGreaterThan(0);
    expect(await page.locator('#signals tr').count()).toBe(answer.signals.length);

    await page.waitForTimeout(300); // the throughput chart's once-a-second tick
    await screenshot(page, 'dashboard-laptop');
    if (process.env.DASHBOARD_DOCS) {
      const docs = path.join(import.meta.dirname, '../../docs');
      await mkdir(docs, { recursive: true });
      await copyFile(path.join(OUTPUT_DIR, 'dashboard-laptop.png'), path.join(docs, 'dashboard.png'));
    }
    await page.setViewportSize(PHONE);
    await page.waitForFunction((width) => (document.querySelector('#chart canvas') as HTMLCanvasElement | null)?.getBoundingClientRect().width! <= width, PHONE.width);
    await screenshot(page, 'dashboard-phone');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBe(0); // nothing wider than a phone
    await page.setViewportSize(LAPTOP);
    expect(admin.problems).toEqual([]);
  });

  it("scopes the chart and the analysis to one user with the admin's user filter", async () => {
    await page.selectOption('#user-filter', 'alice');
    const end = await waitForSnapshot(page, (s) => s.userId === 'alice' && s.analysis !== undefined && !s.history.loading);

    const answer = await swing(end.analysis!.start, end.analysis!.end, 'alice');
    expect(end.chart).toMatchObject({ mode: 'raw', points: 240, series: ['alice', 'batch average (5 min)', 'positive swing', 'negative swing'] });
    expect(end.chart.positive + end.chart.negative).toBe(answer.signals.length);
    expect(await page.$$eval('#records td:nth-child(2)', (cells) => [...new Set(cells.map((c) => c.textContent))])).toEqual(['alice']);

    await page.selectOption('#user-filter', '');
    expect((await waitForSnapshot(page, (s) => s.userId === '' && s.chart.points === 480)).chart.series.slice(0, 2).sort()).toEqual(['alice', 'parsa']);
    expect(admin.problems).toEqual([]);
  });

  it('marks the analysis signals on the chart for a window typed in local time', async () => {
    const values = Array.from({ length: 30 }, (_, i) => [5, 90, 10, 95, 20, 80][i % 6]! + i);
    const ids = await upload(stack.httpUrl, token, recordsAt('2005-03-01T00:00:00Z', values, 150_000));
    await waitForSnapshot(page, (s) => ids.every((id) => s.ids.includes(id))); // stored, so the analysis sees them

    // 01:00 in Berlin in March is 00:00 UTC.
    await page.fill('#start-time', '2005-03-01T01:00:00');
    await page.fill('#end-time', '2005-03-02T01:00:00');
    await page.click('#analysis button[type=submit]');
    const end = await waitForSnapshot(page, (s) => s.analysis?.start === '2005-03-01T00:00:00.000Z' && s.chart.points === 30);

    const answer = await swing('2005-03-01T00:00:00Z', '2005-03-02T00:00:00Z');
    const positive = answer.signals.filter((s) => s.signal === 'positive').length;
    expect(answer.signals.length).toBeGreaterThan(0);
    expect(end.window).toEqual({ start: '2005-03-01T00:00:00.000Z', end: '2005-03-02T00:00:00.000Z', edited: true });
    expect({ positive: end.chart.positive, negative: end.chart.negative }).toEqual({ positive, negative: answer.signals.length - positive });
    const shown = await page.$$eval('#signals tr', (rows) => rows.map((r) => [r.children[0]!.getAttribute('title'), r.children[1]!.className, r.children[2]!.getAttribute('title')]));
    expect(shown).toEqual(answer.signals.map((s) => [s.time, s.signal, String(s.average)]));
    expect(await page.textContent('#analysis-message')).toContain(answer.message ?? `${answer.signals.length} signals`);
    expect(await page.textContent('#zone')).toMatch(/Europe\/Berlin, UTC\+0[12]:00/);

    await page.click('#whole-span');
    // Back to every record loaded: these and the demo-like ones, dated from now on.
    expect(Date.parse((await waitForSnapshot(page, (s) => !s.window.edited)).window.end)).toBeGreaterThan(Date.now());
    expect(admin.problems).toEqual([]);
  });

  it("switches to the server's aggregates when the window holds thousands of records, and back to records when zoomed in", async () => {
    // 3,600 records, one a second over an hour of 2003: a slow wave with noise.
    const noise = seeded(3);
    for (let from = 0; from < 3600; from += 1000) {
      const values = Array.from({ length: Math.min(1000, 3600 - from) }, (_, i) => Math.round(50 + 30 * Math.sin((from + i) / 300) + 15 * (noise() - 0.5)));
      await upload(stack.httpUrl, token, recordsAt(new Date(Date.parse('2003-06-01T00:00:00Z') + from * 1000).toISOString(), values));
    }
    await waitForSnapshot(page, (s) => s.records >= 3600, 30_000);

    // 02:00 in Berlin in June is 00:00 UTC.
    await page.fill('#start-time', '2003-06-01T02:00:00');
    await page.fill('#end-time', '2003-06-01T03:00:00');
    // The typed window's own buckets: while only From is typed, the window runs to the records
    // of today, and that span's aggregates (the series takes any span) come first.
    const typed = (s: { window: { start: string; end: string } }) => s.window.start === '2003-06-01T00:00:00.000Z' && s.window.end === '2003-06-01T01:00:00.000Z';
    const aggregated = await waitForSnapshot(page, (s) => s.chart.mode === 'aggregate' && typed(s) && s.chart.points === 3600);
    expect(aggregated.chart.points).toBe(3600); // the buckets' counts
    expect(await page.textContent('#chart-caption')).toMatch(/^3,600 records of all users: too many to draw one by one, so the server's min–max band and average per \d+[smh]\./);
    await screenshot(page, 'dashboard-aggregate');

    // A drag across the first tenth of the plot picks about six minutes: few enough to draw.
    const plot = (await page.locator('#chart .u-over').boundingBox())!;
    await page.mouse.move(plot.x + 2, plot.y + plot.height / 2);
    await page.mouse.down();
    await page.mouse.move(plot.x + plot.width / 10, plot.y + plot.height / 2, { steps: 5 });
    await page.mouse.up();
    const zoomed = await waitForSnapshot(page, (s) => s.chart.mode === 'raw' && s.window.edited && s.window.end < '2003-06-01T00:10:00Z');
    expect(zoomed.chart.points).toBeGreaterThan(300);
    expect(zoomed.chart.points).toBeLessThan(450);
    expect(admin.problems).toEqual([]);
  });

  it("analyses the last 366 days of a span of decades, draws each user's average over it, and shows values in the millions whole on the axis", async () => {
    // Arrange: records in 2003 and 2044, values near 8,100,000 (and a third user's near
    // 4,000,000), beside the others of this page.
    const carol = (await stack.identity.tokenFor('carol', false)).access_token;
    const ids = [
      ...(await upload(stack.httpUrl, token, recordsAt('2003-02-01T00:00:00Z', [8_100_000, 8_100_007, 8_099_990], 60_000))),
      ...(await upload(stack.httpUrl, token, recordsAt('2044-12-01T00:00:00Z', [8_100_003, 8_199_999], 60_000))),
      ...(await upload(stack.httpUrl, carol, recordsAt('2044-12-01T00:00:00Z', [4_000_000, 4_000_001], 60_000))),
    ];

    // Act: the window follows the data, now 2003 to 2044.
    await page.click('#whole-span');
    const end = await waitForSnapshot(page, (s) => ids.every((id) => s.ids.includes(id)) && !s.window.edited && s.window.end >= '2044-12-01' && s.analysis?.end === s.window.end);

    // Assert: the analysis covers the span's last 366 days and says so; no validation error.
    expect(Date.parse(end.analysis!.end) - Date.parse(end.analysis!.start)).toBe(366 * 86_400_000);
    const message = await page.textContent('#analysis-message');
    expect(message).toContain('its last 366 days were analysed');
    expect(message).not.toMatch(/must be at most/);
    // The chart draws the span's buckets, with gaps where they are empty: no line across decades.
    const query = new URLSearchParams({ start_time: end.window.start, end_time: end.window.end });
    const served = (await (await fetch(`${stack.httpUrl}/api/data/series?${query}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { buckets: { count: number }[] };
    const total = served.buckets.reduce((n, b) => n + b.count, 0);
    const drawn = await waitForSnapshot(page, (s) => s.chart.mode === 'aggregate' && s.chart.points === total, 20_000);
    expect(drawn.chart.gaps).toBeGreaterThanOrEqual(2); // 2003 to the 2020s, and on to 2044
    // Everyone's min–max band, and an average line per user, the busiest first.
    expect(drawn.chart.series.slice(0, 5)).toEqual(['max', 'min', 'parsa', 'alice', 'carol']);
    expect(await page.textContent('#chart-caption')).toContain("min–max band and each user's average per");
    // The y axis is as wide as its widest label, which is a value in the millions, whole.
    expect(drawn.chart.yAxis.widest).toMatch(/^-?\d{1,3}(,\d{3}){2,}$/);
    expect(drawn.chart.yAxis.size).toBeGreaterThanOrEqual(drawn.chart.yAxis.label);
    await screenshot(page, 'dashboard-decades');
    expect(admin.problems).toEqual([]);
  });

  it('loads the 2,000 most recently stored records on open, no more', async () => {
    await page.reload(); // the session is kept: a new page, the same records in the database
    const end = await waitForSnapshot(page, (s) => !s.history.loading);

    const newest = await stack.pool.query('SELECT id FROM records ORDER BY stored_at DESC, id DESC LIMIT 2000');
    expect(end.history).toMatchObject({ delivered: 2000, complete: false });
    expect([...end.ids].sort()).toEqual(newest.rows.map((r: { id: string }) => r.id).sort());
    expect(admin.problems).toEqual([]);
  });

  it('says in the banner that dead-lettered records went to the DLQ, until dismissed', async () => {
    await pushFrame({ type: 'status', level: 'error', stage: 'store', message: 'Storing 1 message failed on its last delivery; it went to the dead-letter queue.', pending: 0, dead_lettered: 1 });
    await page.waitForSelector('#status:not([hidden])');
    const text = await page.textContent('#status');
    expect(text).toContain('dead-letter queue');
    expect(text).toContain('npm run dlq');
    expect(text).not.toMatch(/will be retried/);

    // Records flowing again do not clear it.
    const ids = await upload(stack.httpUrl, token, recordsAt('2005-04-01T00:00:00Z', [1]));
    await waitForSnapshot(page, (s) => s.ids.includes(ids[0]!));
    expect(await page.isVisible('#status')).toBe(true);
    await page.click('#status-dismiss');
    expect(await page.isHidden('#status')).toBe(true);
  });

  // Needs GET /api/pipeline/status (issue 10's API contract, §3).
  it('shows a dead letter in the pipeline panel, and clears the dead-letter banner once the DLQ is empty', async () => {
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queue.dlqUrl, MessageBody: '{"records":"nope"}' }));
    await pushFrame({ type: 'status', level: 'error', stage: 'store', message: 'It went to the dead-letter queue.', pending: 0, dead_lettered: 1 });
    await page.waitForSelector('#status:not([hidden])');

    await page.click('#health-refresh');
    await page.waitForFunction(() => document.querySelector('#health-dlq')?.textContent === '1', undefined, { timeout: 10_000 });
    expect(await page.getAttribute('#health-dlq', 'class')).toBe('bad');
    expect(await page.isVisible('#health-dlq-hint')).toBe(true);
    expect(await page.isVisible('#status')).toBe(true);

    // Someone empties the DLQ (`npm run dlq -- --redrive`, or by hand): the banner goes.
    const { Messages = [] } = await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queue.dlqUrl, MaxNumberOfMessages: 10 }));
    for (const m of Messages) await stack.sqs.send(new DeleteMessageCommand({ QueueUrl: stack.queue.dlqUrl, ReceiptHandle: m.ReceiptHandle! }));
    await page.click('#health-refresh');
    await page.waitForFunction(() => document.querySelector('#health-dlq')?.textContent === '0', undefined, { timeout: 10_000 });
    await page.waitForSelector('#status', { state: 'hidden' });
    expect(admin.problems).toEqual([]);
  });
});
