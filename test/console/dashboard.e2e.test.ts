import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startConsoleApp, type ConsoleApp } from './support/console-app.js';

/**
 * The dashboard in real headless Chromium (Debian's package, driven by playwright-core; never a
 * downloaded browser): events sent over HTTP show up in the counters, the charts and the
 * aggregates, and the page is saved as the README's screenshot.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../docs/images/dashboard.png');
const HOUR = 3_600_000;

async function post(address: string, route: string, body: unknown): Promise<number> {
  const response = await fetch(`${address}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await response.arrayBuffer();
  return response.status;
}

// Browser-side expressions are strings: the repo's TypeScript has no DOM types.
const tileTotal = async (page: Page, id: string) => Number(await page.evaluate(`document.getElementById('${id}').dataset.total || '0'`));
const until = (page: Page, expression: string, timeout = 20_000) => page.waitForFunction(expression, undefined, { timeout });
const total = (id: string) => `Number(document.getElementById('${id}').dataset.total || 0)`;
const text = (id: string) => `(document.getElementById('${id}').textContent || '')`;
const chartSum = (page: Page, name: string) =>
  page.evaluate(`window.streamlineDashboard.charts['${name}'].data.datasets.reduce((sum, d) => sum + d.data.reduce((a, v) => a + v, 0), 0)`) as Promise<number>;

describe('dashboard in headless Chromium', () => {
  let app: ConsoleApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium). This test never downloads a browser.`);
    }
    app = await startConsoleApp({ analytics: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  test('counters, charts and aggregates follow the events sent', async () => {
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${app.adminAddress}/dashboard?refresh=400&event_name=product_view,add_to_cart&user=user_1&item=item_7&jurisdiction=unknown`);
    await until(page, 'Number(document.body.dataset.refreshes || 0) >= 2');
    expect(await page.textContent('#status')).toBe('ready');
    expect(await tileTotal(page, 'stat-accepted')).toBe(0);

    // Product events spread over the last 12 hours, two channels, some users seen twice.
    const now = Date.now();
    // More of them in recent hours, so the hourly chart has a shape.
    const products = Array.from({ length: 120 }, (_, i) => ({
      event_id: `p-${i}`,
      event_name: i % 3 === 0 ? 'add_to_cart' : 'product_view',
      channel: i % 4 === 0 ? 'mobile' : 'web',
      user_id: `user_${i % 40}`,
      timestamp: now - Math.floor(12 * (i / 120) ** 2) * HOUR,
    }));
    expect(await post(app.address, '/events/bulk', { events: products })).toBe(202);
    // Learning events: attempts by user_1 on item_7 feed the seed 002 aggregates.
    const attempts = Array.from({ length: 6 }, (_, i) => ({ user_id: 'user_1', item_id: 'item_7', client_attempt_id: `a-${i}`, correct: i % 2 === 0, time_taken_ms: 1000 + i * 100 }));
    expect(await post(app.address, '/api/v1/events/batch', { events: attempts })).toBe(200);
    // A repeat (duplicate) and bad events (rejected; the collector's go to the DLQ).
    expect(await post(app.address, '/api/v1/events/batch', { events: [attempts[0]] })).toBe(200);
    expect(await post(app.address, '/events', { user_id: 'user_1', timestamp: now })).toBe(400);
    expect(await post(app.address, '/api/v1/collect', { events: [{ event_type: 'interaction', tenant_id: 't', timestamp: new Date(now).toISOString(), source_service: 'web' }] })).toBe(422);

    const accepted = products.length + attempts.length;
    // The last request sent is counted in received: once the page shows it, the scrape saw them all.
    await until(page, `${total('stat-received')} === ${accepted + 1 + 1 + 1}`);
    expect(await tileTotal(page, 'stat-accepted')).toBe(accepted);
    expect(await tileTotal(page, 'stat-rejected')).toBe(2);
    expect(await tileTotal(page, 'stat-duplicates')).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#rejected-reasons')).toContain('ingress: validation');
    await until(page, `${total('stat-dlq')} >= 1`);

    // The rates chart drew the burst; the topology caught up (processed counter and lag).
    await until(page, 'window.streamlineDashboard.charts.rates.data.datasets[1].data.some((v) => v > 0)');
    await until(page, `${total('stat-processed')} >= ${accepted}`);
    expect(await page.evaluate('window.streamlineDashboard.charts.lag.data.labels.length')).toBeGreaterThan(0);
    await until(page, `/^[\\d.]+ ms$/.test(document.querySelector('#stat-commit .value').textContent)`);
    expect(await tileTotal(page, 'stat-commit')).toBeGreaterThan(0);

    // Analytics: seed 004 per hour and per channel from ClickHouse, seed 002 from the stores.
    await until(page, `/120 events in the last 24 h/.test(${text('events-note')})`, 30_000);
    expect(await chartSum(page, 'events-hourly')).toBe(120);
    expect(await chartSum(page, 'channels')).toBe(120);
    expect(await chartSum(page, 'users-hourly')).toBeGreaterThan(0);
    await until(page, `${text('agg-user-table')}.includes('0.5')`);
    await until(page, `${text('agg-item-table')}.includes('6')`);
    expect(await chartSum(page, 'throughput')).toBeGreaterThan(0);

    // A few more refreshes so the screenshot's rate chart has a history.
    await until(page, 'window.streamlineDashboard.charts.rates.data.labels.length >= 10');
    expect(pageErrors).toEqual([]);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  }, 90_000);

  test('a panel whose route is missing says so and the rest keeps working', async () => {
    await page.route('**/processor/aggregation?**', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"Route not found"}' }));
    await page.route('**/metrics?event_name=**', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"analytics query is not configured"}' }));
    await page.reload();
    await until(page, `${text('aggregates-note')}.includes('404')`);
    await until(page, `${text('events-note')}.includes('analytics query is not configured')`);
    await until(page, `${total('stat-accepted')} > 0`);
    expect(await page.evaluate(`document.getElementById('aggregates-note').classList.contains('unavailable')`)).toBe(true);
  }, 60_000);
  test('with ADMIN_TOKEN the browser asks for it (basic auth) and the page then reads the admin listener with it', async () => {
    const token = 'dashboard-token-0123456789';
    const guarded = await startConsoleApp({ adminToken: token });
    try {
      const anonymous = await fetch(`${guarded.adminAddress}/dashboard`);
      expect(anonymous.status).toBe(401);
      // The Basic challenge is what makes a browser prompt (a browser without credentials, as here, gets no page).
      expect(anonymous.headers.get('www-authenticate')).toContain('Basic realm="streamline-admin"');
      const noCredentials = await browser.newPage();
      await expect(noCredentials.goto(`${guarded.adminAddress}/dashboard`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
      await noCredentials.close();
      // Playwright answers the Basic challenge as a user typing into the browser's prompt would.
      const context = await browser.newContext({ httpCredentials: { username: 'operator', password: token } });
      const operator = await context.newPage();
      const errors: string[] = [];
      operator.on('pageerror', (error) => errors.push(error.message));
      expect((await operator.goto(`${guarded.adminAddress}/dashboard?refresh=400`))?.status()).toBe(200);
      await until(operator, 'Number(document.body.dataset.refreshes || 0) >= 2');
      expect(await operator.textContent('#status')).toBe('ready');
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      await guarded.stop();
    }
  }, 90_000);

  test('/docs renders Swagger UI with the routes from /openapi.json', async () => {
    const docs = await browser.newPage();
    try {
      const errors: string[] = [];
      docs.on('pageerror', (error) => errors.push(error.message));
      await docs.goto(`${app.adminAddress}/docs`);
      await until(docs, `[...document.querySelectorAll('.opblock-summary-path')].some((el) => el.textContent === '/api/v1/events/attempt')`);
      expect(await docs.evaluate(`document.querySelectorAll('.opblock').length`)).toBeGreaterThanOrEqual(25);
      expect(errors).toEqual([]);
    } finally {
      await docs.close();
    }
  }, 60_000);
});
