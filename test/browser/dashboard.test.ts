/// <reference lib="dom" />
/**
 * The dashboard in a real browser against the local stack: history on open then live records,
 * each once; the chart drawing them; a reconnect; what a non-admin sees; and the session kept
 * across reloads until it is logged out, expires or is refused. The admin's page is shared by
 * the tests in order (a browser context costs about a second on a busy CI machine).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoConnectionRegistry } from '../../lambdas/adapters/dynamo-connection-registry';
import { localDocumentClient } from '../../local/services';
import { connectMonitor, login, startTestStack } from '../support/stack';
import { chromiumAvailable, launchChromium, logInThroughForm, newPage, openWithToken, recordsAt, snapshot, upload, waitForSnapshot } from './support';

describe.skipIf(!chromiumAvailable)('the monitoring dashboard', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let browser: Browser;
  let token: string;
  let admin: Awaited<ReturnType<typeof newPage>>;
  let page: Page;
  const stored = async () => Number((await stack.pool.query('SELECT count(*) FROM records')).rows[0].count);

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startTestStack(), launchChromium()]);
    token = await login(stack.httpUrl);
    // The first WebSocket connect starts the authorizer's and $connect's environments: a few
    // seconds once, not inside the first test's wait.
    await (await connectMonitor(stack.wsUrl, token)).close();
    admin = await newPage(browser);
    page = admin.page;
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.cleanup();
  });

  it('loads the records stored before it opened, then live ones, each exactly once, and draws them', async () => {
    // Arrange: N records stored before the page opens.
    const before = await upload(stack.httpUrl, token, recordsAt('2004-01-01T00:00:00Z', Array.from({ length: 40 }, (_, i) => i)));
    await expect.poll(stored, { timeout: 10_000 }).toBe(40);

    // Act: open the page, then M more records.
    await logInThroughForm(page, stack.httpUrl);
    const opened = await snapshot(page);
    const after = await upload(stack.httpUrl, token, recordsAt('2004-01-01T01:00:00Z', Array.from({ length: 25 }, (_, i) => 100 + i)));
    const end = await waitForSnapshot(page, (s) => s.records >= 65 && s.chart.points >= 65);

    // Assert: N from history, M live, no id twice, and all of them drawn.
    expect(opened!.history).toMatchObject({ complete: true, delivered: 40 });
    expect(opened!.chart.points).toBe(40);
    expect(end.received).toBe(65);
    expect(new Set(end.ids).size).toBe(65);
    expect([...end.ids].sort()).toEqual([...before, ...after].sort());
    expect(end.chart).toMatchObject({ mode: 'raw', points: 65, series: expect.arrayContaining(['parsa']) });
    expect(await page.textContent('#count-total')).toBe('65');
    expect(await page.textContent('#count-history')).toBe('40');
    expect(await page.locator('#records tr').count()).toBe(50);
    expect(await page.textContent('#records tr:first-child td:nth-child(2)')).toBe('parsa');
    await expect.poll(async () => Number(await page.textContent('#count-rate'))).toBeGreaterThan(0);
    expect(await page.textContent('#count-latency')).toMatch(/^\d+ ms$/);
    expect(admin.problems).toEqual([]);
  });

  it('shows every record once across a dropped connection: it reconnects and catches up', async () => {
    // The server drops the page's connection (API Gateway's DeleteConnection); records are
    // stored meanwhile, some while no connection is open.
    const registry = new DynamoConnectionRegistry(localDocumentClient(stack.dynamoEndpoint), stack.tableName);
    // The admin's page is the only monitor open (the warm-up's is gone, or going).
    const statuses = [];
    for (const c of await registry.list(0)) statuses.push((await fetch(`${stack.ws.managementEndpoint}/@connections/${c.connectionId}`, { method: 'DELETE' })).status);
    expect(statuses).toContain(204);
    await page.waitForSelector('#connection.off');
    const during = await upload(stack.httpUrl, token, recordsAt('2006-01-01T00:00:00Z', Array.from({ length: 15 }, (_, i) => i)));
    const end = await waitForSnapshot(page, (s) => during.every((id) => s.ids.includes(id)), 30_000);
    await page.waitForSelector('#connection.on');

    expect(end.received).toBe(end.ids.length);
    expect(end.received).toBe(await stored());
    expect(admin.problems).toEqual([]);
  });

  it('shows a non-admin only their own records, with no user filter and no pipeline panel', async () => {
    const someone = (await stack.identity.tokenFor('someone', false)).access_token;
    const own = await upload(stack.httpUrl, someone, recordsAt('2007-01-01T00:00:00Z', [1, 2, 3, 4, 5]));
    await expect.poll(async () => (await stack.pool.query("SELECT 1 FROM records WHERE user_id = 'someone'")).rowCount, { timeout: 10_000 }).toBe(5);
    const other = await newPage(browser);

    await openWithToken(other.page, stack.httpUrl, someone);
    await other.page.waitForSelector('#connection.on');
    await waitForSnapshot(other.page, (s) => !s.history.loading);
    const live = await upload(stack.httpUrl, someone, recordsAt('2007-01-01T00:01:00Z', [6, 7]));
    const admins = await upload(stack.httpUrl, token, recordsAt('2007-01-01T00:02:00Z', [8, 9]));
    // The admin's page gets the admin's records: by then they were pushed to whoever may see them.
    await waitForSnapshot(page, (s) => admins.every((id) => s.ids.includes(id)));
    const end = await waitForSnapshot(other.page, (s) => s.records >= 7);

    expect([...end.ids].sort()).toEqual([...own, ...live].sort());
    expect(end.chart.series[0]).toBe('someone');
    expect(await other.page.textContent('#whoami')).toBe('someone');
    expect(await other.page.isHidden('#user-filter-label')).toBe(true);
    expect(await other.page.isHidden('#health')).toBe(true);
    expect(other.problems).toEqual([]);
    await other.close();
  });

  it('keeps the session across a reload; after log-out a reload shows the login form', async () => {
    await page.reload();
    await page.waitForSelector('#connection.on');
    expect(await page.isVisible('#monitor')).toBe(true);
    expect(await page.isHidden('#login')).toBe(true);

    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await snapshot(page)).toBeNull();
    await page.reload();
    await page.waitForSelector('#login:not([hidden])');
    expect(await page.isHidden('#monitor')).toBe(true);
    expect(await page.isHidden('#login-error')).toBe(true);
    expect(admin.problems).toEqual([]);
  });

  // Two page loads and a refused WebSocket handshake in one test: more than the default 30 s
  // when the machine is busy with the other test file that runs beside it.
  it('sends an expired or refused token back to the login form, saying why', { timeout: 60_000 }, async () => {
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const expired = `${part({ alg: 'RS256' })}.${part({ sub: 'parsa', exp: Math.floor(Date.now() / 1000) - 60 })}.x`;
    await openWithToken(page, stack.httpUrl, expired);
    await page.waitForSelector('#login-error:not([hidden])');
    expect(await page.textContent('#login-error')).toMatch(/expired/);

    // Well-formed and unexpired, but not signed by the issuer: the API answers 401.
    const forged = `${part({ alg: 'RS256' })}.${part({ sub: 'parsa', exp: Math.floor(Date.now() / 1000) + 600 })}.x`;
    await openWithToken(page, stack.httpUrl, forged);
    await page.waitForSelector('#login-error:not([hidden])', { timeout: 15_000 });
    expect(await page.textContent('#login-error')).toMatch(/refused/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it("refuses a wrong password with the API's message", async () => {
    await page.fill('input[name=username]', 'parsa');
    await page.fill('input[name=password]', 'wrong');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent === 'Wrong username or password.');
    expect(await page.isHidden('#monitor')).toBe(true);
  });
});
