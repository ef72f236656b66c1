import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StockCommand } from '../../processors/inventory/commands.js';
import { planRounds } from '../../processors/inventory/shard-plan.js';
import { StockShards } from '../../processors/inventory/shards.js';
import { skuBucket } from '../../processors/inventory/sku-record.js';

const shards = new StockShards('inv', 4);
// SKUs named after the shard they land on, found by trying names
const skuOn = (shard: number, n = 0): string => {
  let found = -1;
  for (let i = 0; ; i++) {
    const name = `sku-${i}`;
    if (shards.ofSku(name) === shard && ++found === n) return name;
  }
};
const receive = (sku: string, id: string): StockCommand => ({
  kind: 'RECEIVED',
  eventId: id,
  sku,
  quantity: 1,
});
const place = (orderId: string, skus: string[]): StockCommand => ({
  kind: 'PLACE',
  eventId: `pl-${orderId}`,
  orderId,
  lines: skus.map((sku) => ({ sku, quantity: 1 })),
});
const items = (commands: StockCommand[]) => commands.map((command, offset) => ({ offset, command }));

describe('stock shards', () => {
  it('one shard keeps the plain tag and everything in one round', () => {
    const one = new StockShards('inv', 1);
    expect(one.keys.map((k) => k.sku('x'))).toEqual([`{inv}:sb:${skuBucket('x')}`]);
    const rounds = planRounds(
      [
        {
          items: items([
            place('o1', ['a', 'b']),
            receive('a', 'r1'),
            { kind: 'CANCEL', eventId: 'x', orderId: 'o1' },
          ]),
        },
      ],
      one,
      new Map(),
    );
    expect(rounds).toHaveLength(1);
    expect(rounds[0]?.[0]?.events.every((e) => !e.tentative && [...e.parts.keys()].join() === '0')).toBe(
      true,
    );
  });

  it('spreads SKUs over every tag, the same way in every process', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) (counts[shards.ofSku(`SKU-${i}`)] as number)++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(shards.ofSku('SKU-00042')).toBe(new StockShards('inv', 4).ofSku('SKU-00042'));
    expect(shards.keys.map((k) => k.sku('x'))).toEqual(
      [0, 1, 2, 3].map((i) => `{inv.${i}}:sb:${skuBucket('x')}`),
    );
  });

  it('an order spanning shards is tentative, and whatever touches its SKUs or order waits a round', () => {
    const a = skuOn(0);
    const b = skuOn(1);
    const c = skuOn(2);
    const rounds = planRounds(
      [
        {
          items: items([
            receive(a, 'r0'),
            place('o1', [a, b]), // spans 0 and 1
            receive(c, 'r1'), // unrelated: same round
            receive(b, 'r2'), // touches o1's SKU: next round
            receive(c, 'r3'),
          ]),
        },
        { items: items([receive(c, 'q0'), { kind: 'CANCEL', eventId: 'q1', orderId: 'o1' }]) },
      ],
      shards,
      new Map([
        [
          'o1',
          new Map([
            [0, [{ sku: a, quantity: 1 }]],
            [1, [{ sku: b, quantity: 1 }]],
          ]),
        ],
      ]),
    );
    expect(rounds.map((r) => r.map((p) => [p.segment, p.events.map((e) => e.offset)]))).toEqual([
      [
        [0, [0, 1, 2]],
        [1, [0]],
      ],
      [
        [0, [3, 4]],
        [1, [1]],
      ],
    ]);
    const o1 = rounds[0]?.[0]?.events[1];
    expect(o1?.tentative).toBe(true);
    expect([...(o1?.parts.keys() ?? [])].sort()).toEqual([0, 1]);
    // the release goes to both shards holding the order, and to the order's home shard
    expect([...(rounds[1]?.[1]?.events[0]?.parts.keys() ?? [])].sort()).toEqual(
      [...new Set([0, 1, shards.ofOrder('o1')])].sort(),
    );
  });

  it('a release of an order nobody holds goes to its home shard', () => {
    const [round] = planRounds(
      [{ items: items([{ kind: 'PAY', eventId: 'c', orderId: 'ghost' }]) }],
      shards,
      new Map(),
    );
    expect([...(round?.[0]?.events[0]?.parts.keys() ?? [])]).toEqual([shards.ofOrder('ghost')]);
  });

  it('rounds keep every event once, in offset order per segment, and hold no conflict', () => {
    const sku = fc.constantFrom(...[0, 1, 2, 3].flatMap((s) => [skuOn(s), skuOn(s, 1)]));
    const command = fc.oneof(
      sku.map((s) => receive(s, `r-${s}`)),
      fc
        .tuple(fc.nat({ max: 5 }), fc.uniqueArray(sku, { minLength: 1, maxLength: 3 }))
        .map(([o, skus]) => place(`o${o}`, skus)),
      fc.nat({ max: 5 }).map((o): StockCommand => ({ kind: 'PAY', eventId: `c${o}`, orderId: `o${o}` })),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(command, { maxLength: 12 }), { minLength: 1, maxLength: 3 }),
        (segments) => {
          const rounds = planRounds(
            segments.map((s) => ({ items: items(s) })),
            shards,
            new Map(),
          );
          segments.forEach((s, i) => {
            const offsets = rounds.flatMap((r) =>
              r.filter((p) => p.segment === i).flatMap((p) => p.events.map((e) => e.offset)),
            );
            expect(offsets).toEqual(s.map((_, o) => o));
          });
          for (const round of rounds) {
            const tentative = new Set<string>();
            for (const part of round) {
              for (const e of part.events) {
                const touched = [...e.parts.values()].flat().map((l) => l.sku);
                if ('sku' in e.command) touched.push(e.command.sku);
                const order = 'orderId' in e.command ? `order:${e.command.orderId}` : '';
                expect(touched.some((t) => tentative.has(t)) || tentative.has(order)).toBe(false);
                if (e.tentative) for (const t of [...touched, order]) tentative.add(t);
              }
            }
          }
        },
      ),
    );
  });
});
