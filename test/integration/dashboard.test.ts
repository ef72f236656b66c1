/// <reference lib="dom" />
// page.evaluate callbacks run in the browser
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../observability/clickhouse.js';
import { grafanaPanels } from '../../observability/dashboard/grafana.js';
import { runDashboardQuery } from '../../observability/dashboard/queries.js';
import { migrate } from '../../observability/migrate.js';
import { testKafka, testStack } from '../helpers/pipeline.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { freePort, killAll, spawnProcessor, waitFor, type Spawned } from '../helpers/processes.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag } from '../helpers/redis.js';
import { projectRoot } from '../helpers/stack-env.js';

const artefacts = join(projectRoot, 'test-artifacts');

describe('dashboard in a real browser, data from a real run', () => {
  const kafka = testKafka('dashboard-test');
  let run: InventoryRun;
  let browser: Browser | undefined;
  let dashboard: Spawned;
  let url: string;

  beforeAll(async () => {
    const install = spawnSync('bash', [join(projectRoot, 'deploy/stack.sh'), 'install-browser'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 600_000,
    });
    expect(install.status, 'Debian chromium installed').toBe(0);
    const admin = createClickHouse({ url: testStack().clickhouseUrl, username: 'default', password: '' });
    await migrate(admin);
    await admin.close();
    run = await inventoryRun(kafka, 'dash');
  }, 700_000);

  afterAll(async () => {
    await browser?.close();
    await killAll();
    await deleteTag(run.redis, run.tag);
    await deleteTag(run.redis, `${run.tag}-orders`);
    await run.close();
  });

  it('refuses to start with a ClickHouse user that can write', async () => {
    const refused = spawnProcessor('observability/dashboard/main.ts', {
      DASHBOARD_PORT: String(await freePort()),
      DASHBOARD_CLICKHOUSE_USER: 'pipeline_writer',
      DASHBOARD_CLICKHOUSE_PASSWORD: 'writer-local-only',
    });
    const { code } = await refused.exited;
    expect(code).toBe(2);
    expect(refused.output()).toContain('can write');
    expect(refused.output()).not.toContain('writer-local-only');
  }, 60_000);

  it('renders throughput, latency, errors, lag and alerts live, and saves a screenshot', async () => {
    const { prefix, producer, group } = run;
    const sku = `${prefix}SKU-1`;
    // a product with a low-stock threshold, stock for it, orders that take it low, then out
    // (a critical alert, listed first however many others the shared stack holds), and bad
    // events for the dead-letter counts
    await producer.send('catalogue', [{ key: sku, value: product(sku, 5) }]);
    // stocked in two warehouses; a one-minute velocity half-life makes the orders below a
    // selling rate that predicts the stock-out at once (lead time 72 h by default)
    await producer.send('stock', [
      { key: sku, value: { ...stock(`${prefix}s-1`, sku, 'RECEIVED', 20), warehouseId: 'WH-EAST' } },
      { key: sku, value: { ...stock(`${prefix}s-2`, sku, 'RECEIVED', 16), warehouseId: 'WH-WEST' } },
    ]);
    run.start({ INVENTORY_VELOCITY_HALF_LIFE_MINUTES: '1' });
    // the order processor publishes the order transitions the funnel counts
    run.startOrders(`${run.tag}-orders`);
    dashboard = spawnProcessor('observability/dashboard/main.ts', {
      DASHBOARD_PORT: String(await freePort()),
      DASHBOARD_REFRESH_MS: '1000',
      LOG_LEVEL: 'info',
    });
    spawnProcessor('observability/lag/main.ts', {
      TOPIC_PREFIX: prefix,
      LAG_TARGETS: `${group}=stock,orders`,
      LAG_SAMPLE_INTERVAL_MS: '500',
    });
    // stock and orders are separate topics: the receipt must land before the orders do
    await waitFor('opening stock applied', async () => (await run.store.getSku(sku))?.onHand === 36, 60_000);
    for (let round = 0; round < 4; round++) {
      await producer.send(
        'orders',
        Array.from({ length: 9 }, (_, i) => ({
          key: `${prefix}o-${round}-${i}`,
          value: order({
            eventId: `${prefix}o-${round}-${i}`,
            orderId: `${prefix}o-${round}-${i}`,
            type: 'PLACED',
            lines: [{ sku, quantity: 1, unitPriceMinor: null }],
          }),
        })),
      );
      await producer.sendRaw('orders', [{ key: 'bad', value: Buffer.from(`not avro ${round}`) }]);
      await new Promise((r) => setTimeout(r, 700));
    }
    await run.caughtUp();

    await waitFor('dashboard listening', async () => /dashboard listening/.test(dashboard.output()), 30_000);
    url = /"url":"([^"]+)"/.exec(dashboard.output())?.[1] ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    // what the page shows comes from ClickHouse through the read-only user
    const writeAttempt = await fetch(`${url}api/overview`, { method: 'POST' });
    expect(writeAttempt.status).toBe(405);
    expect((await fetch(`${url}api/overview?minutes=1;DROP`)).status).toBe(400);
    // nothing the dashboard serves carries a credential
    for (const path of ['', 'api/config', 'api/overview?minutes=15', 'app.js']) {
      const body = await (await fetch(`${url}${path}`)).text();
      expect(body, path).not.toMatch(/reader-local-only|writer-local-only|pipeline-local-only/);
    }
    expect(dashboard.output()).not.toMatch(/reader-local-only/);

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(url);

    const topic = `${prefix}orders`;
    await page.waitForSelector('#status[data-state="live"]', { timeout: 30_000 });
    // metrics are flushed about once a second and lag sampled every half second: wait for the
    // page's own refresh to pick them up rather than reloading it
    let shown: Record<string, boolean> = {};
    try {
      await waitFor(
        'every panel showing this run',
        async () => {
          shown = await page.evaluate(
            ([t, g, s]) => {
              const text = (sel: string) => document.querySelector(sel)?.textContent ?? '';
              // every chart says on its figure which series it draws (and with how many points)
              const lines = (fig: string, series: string) =>
                (
                  JSON.parse((document.querySelector(fig) as HTMLElement).dataset.series ?? '[]') as {
                    name: string;
                    points: number;
                  }[]
                ).filter((l) => l.name.includes(series) && l.points > 0).length;
              const drawn = (fig: string) => document.querySelectorAll(`${fig} canvas`).length === 1;
              return {
                processorsTable: text('#processors').includes(t),
                throughputChart: lines('#chart-throughput', t) > 0 && drawn('#chart-throughput'),
                latencyChart: lines('#chart-latency', `inventory · ${t} p99`) === 1,
                errorsChart: lines('#chart-errors', `inventory · ${t} `) === 2,
                lagChart: lines('#chart-lag', g) > 0,
                lagTable: text('#lag').includes(g),
                stockAlerts: text('#stock-alerts').includes(s),
                activeAlerts: text('#active-alerts').includes(s),
                dlqPanel: text('#dlq').includes(t),
                funnel: lines('#chart-funnel', 'placed') > 0 && drawn('#chart-funnel'),
                atRisk: text('#at-risk').includes(s),
              };
            },
            [topic, group, sku] as const,
          );
          return Object.values(shown).every(Boolean);
        },
        60_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; panels: ${JSON.stringify(shown)}`, { cause: err });
    } finally {
      mkdirSync(artefacts, { recursive: true });
      await page.screenshot({ path: join(artefacts, 'dashboard.png'), fullPage: true });
    }
    const row = page.locator('#processors tbody tr', { hasText: topic });
    const cells = await row.first().locator('td').allTextContents();
    expect(Number(cells[2]?.replace(/,/g, ''))).toBeGreaterThan(0); // events per second
    // the four bad orders, dead-lettered, in the per-minute series the errors chart draws
    const data = (await (await fetch(`${url}api/overview?minutes=15`)).json()) as {
      throughput: { processor: string; topic: string; dead_lettered: string; applied: string }[];
    };
    const mine = data.throughput.filter((r) => r.processor === 'inventory' && r.topic === topic);
    expect(mine.reduce((n, r) => n + Number(r.dead_lettered), 0)).toBe(4);
    expect(mine.reduce((n, r) => n + Number(r.applied), 0)).toBe(36);
    expect(await page.locator('#stock-alerts li', { hasText: sku }).first().textContent()).toMatch(
      /LOW_STOCK|OUT_OF_STOCK/,
    );
    expect(Number(await page.locator('#tile-dlq').textContent())).toBeGreaterThanOrEqual(4);

    // the dead-letter panel: the four bad orders under their input and reason, with an example
    const dlqRow = page.locator('#dlq tbody tr', { hasText: topic });
    const dlqCells = await dlqRow.first().locator('td').allTextContents();
    expect(dlqCells[1]).toMatch(/[A-Z_]+/);
    expect(dlqCells[3]).toBe('4');
    expect(dlqCells[5]).toContain('key bad');
    // the funnel: all 36 orders placed (shared stack: at least), each reserved or rejected
    await waitFor(
      'funnel totals',
      async () =>
        Number(
          (await page.locator('#funnel-totals [data-state="PLACED"] strong').textContent())?.replace(
            /,/g,
            '',
          ),
        ) >= 36,
      30_000,
    );

    // a legend entry toggles its series off and on again, and the choice survives a refresh
    const shownOf = async (name: string) =>
      (
        JSON.parse((await page.locator('#chart-throughput').getAttribute('data-series')) ?? '[]') as {
          name: string;
          shown: boolean;
        }[]
      ).find((x) => x.name === name)?.shown;
    const seriesName = `inventory · ${topic}`;
    const legendEntry = page.locator('#chart-throughput .u-legend .u-series', { hasText: seriesName });
    await legendEntry.first().click();
    expect(await shownOf(seriesName)).toBe(false);
    expect(await legendEntry.first().getAttribute('class')).toContain('u-off');
    const before = Number(await page.locator('body').getAttribute('data-loaded-at'));
    await page.waitForFunction((t) => Number(document.body.dataset.loadedAt) > t, before, {
      timeout: 10_000,
    });
    expect(await shownOf(seriesName)).toBe(false);
    await page.screenshot({ path: join(artefacts, 'dashboard-series-toggled-off.png'), fullPage: true });
    await legendEntry.first().click();
    expect(await shownOf(seriesName)).toBe(true);

    // the quantile chosen for the latency chart, and the processor filter
    await page.selectOption('#quantile', '0');
    // by series name: the run's random topic prefix may itself contain "p99"
    const latencySeries = (
      JSON.parse((await page.locator('#chart-latency').getAttribute('data-series')) ?? '[]') as {
        name: string;
      }[]
    ).map((x) => x.name);
    expect(latencySeries).toContain(`inventory · ${topic} p50`);
    expect(latencySeries.filter((name) => !name.endsWith(' p50'))).toEqual([]);
    await page.selectOption('#processor-filter', 'orders');
    const processors = await page.locator('#processors tbody td:first-child').allTextContents();
    expect(processors.length).toBeGreaterThan(0);
    expect(new Set(processors)).toEqual(new Set(['orders']));
    expect(await page.locator('#chart-throughput').getAttribute('data-series')).not.toContain('inventory');
    await page.selectOption('#processor-filter', '');

    // it keeps refreshing by itself
    const loadedAt = Number(await page.locator('body').getAttribute('data-loaded-at'));
    await page.waitForFunction((t) => Number(document.body.dataset.loadedAt) > t, loadedAt, {
      timeout: 10_000,
    });

    await page.screenshot({ path: join(artefacts, 'dashboard.png'), fullPage: true });

    // the at-risk panel: the SKU with its predicted stock-out and the velocity behind it
    const riskCells = await page
      .locator('#at-risk tbody tr', { hasText: sku })
      .first()
      .locator('td')
      .allTextContents();
    expect(riskCells[1]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} \((in \d+[mhd]|passed)\)$/);
    expect(Number(riskCells[3]?.replace(/,/g, ''))).toBeGreaterThan(0);
    expect((await fetch(`${url}api/sku?sku=${encodeURIComponent("x' OR 1")}`)).status).toBe(400);

    // its page, from the panel's link: stock per warehouse, velocity, history, alerts
    await page.locator('#at-risk tbody tr', { hasText: sku }).first().locator('a').click();
    await page.waitForSelector('#status[data-state="live"]', { timeout: 30_000 });
    expect(page.url()).toContain(`/sku.html?sku=${encodeURIComponent(sku)}`);
    let skuShown: Record<string, unknown> = {};
    await waitFor(
      'the SKU page showing the run',
      async () => {
        skuShown = await page.evaluate(() => {
          const text = (sel: string) => document.querySelector(sel)?.textContent ?? '';
          const points = (fig: string) =>
            (
              JSON.parse((document.querySelector(fig) as HTMLElement).dataset.series ?? '[]') as {
                points: number;
              }[]
            ).reduce((n, l) => n + l.points, 0);
          return {
            warehouses: [...document.querySelectorAll('#warehouses tbody tr')].map((r) =>
              [...r.querySelectorAll('td')].map((td) => td.textContent),
            ),
            velocityPoints: points('#chart-velocity'),
            stockPoints: points('#chart-stock'),
            historyRows: document.querySelectorAll('#history tbody tr td.num').length,
            predicted: text('#sku-alerts').includes('STOCKOUT_PREDICTED'),
            velocity: text('#tile-velocity'),
          };
        });
        const w = skuShown.warehouses as string[][];
        return (
          w.length === 2 &&
          w.every((r) => r[3] === '0') &&
          (skuShown.velocityPoints as number) > 0 &&
          (skuShown.historyRows as number) > 0 &&
          skuShown.predicted === true
        );
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; SKU page: ${JSON.stringify(skuShown)}`, { cause: err });
    });
    // all 36 units held: 20 in one warehouse, 16 in the other
    expect(skuShown.warehouses).toEqual([
      ['WH-EAST', '20', '20', '0'],
      ['WH-WEST', '16', '16', '0'],
    ]);
    await page.screenshot({ path: join(artefacts, 'dashboard-sku.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it("the Grafana panels' SQL runs on this ClickHouse through the read-only user and sees the run", async () => {
    const reader = createClickHouse({
      url: testStack().clickhouseUrl,
      username: 'dashboard_reader',
      password: 'reader-local-only',
    });
    try {
      // what the Altinity data source sends for "last hour"
      const from = String(Math.floor(Date.now() / 1000) - 3600);
      const results = new Map<string, unknown[]>();
      for (const panel of grafanaPanels()) {
        results.set(panel.title, await runDashboardQuery(reader, panel.sql.replaceAll('$from', from)));
      }
      const throughput = results.get('Events per second, per processor and topic') as {
        groupArr: [string, number][];
      }[];
      const series = throughput.flatMap((r) => r.groupArr.map(([name]) => name));
      expect(series).toContain(`inventory · ${run.prefix}orders`);
    } finally {
      await reader.close();
    }
  });
});
