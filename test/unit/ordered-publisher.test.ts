import type { TopicMessages } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { OrderedPublisher } from '../../runtime/ordered-publisher.js';

const msgs = (topic: string, values: string[]) =>
  values.map((value) => ({ topic, message: { key: value, value } }));

/** A send that completes only when the test says so, recording every request. */
function controlledSend() {
  const requests: TopicMessages[][] = [];
  const pending: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  const send = (tm: TopicMessages[]) => {
    requests.push(tm);
    return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
  };
  const settle = async (ok = true) => {
    const p = pending.shift();
    if (!p) throw new Error('no request in flight');
    if (ok) p.resolve();
    else p.reject(new Error('broker gone'));
    await new Promise((r) => setTimeout(r, 0));
  };
  return { send, requests, settle };
}

const values = (tm: TopicMessages[]) =>
  tm.flatMap((t) => t.messages.map((m) => `${t.topic}/${String(m.value)}`));

describe('ordered publisher', () => {
  it('keeps one request in flight, sends what queued meanwhile as the next one, acknowledges in order', async () => {
    const { send, requests, settle } = controlledSend();
    const publisher = new OrderedPublisher(send);
    const acked: string[] = [];
    const track = (p: Promise<void>, name: string) => p.then(() => void acked.push(name));
    const all = [
      track(publisher.publish(msgs('levels', ['a1'])), 'a1'),
      track(publisher.publish(msgs('levels', ['a2'])), 'a2'),
      track(publisher.publish(msgs('results', ['r1'])), 'r1'),
    ];
    expect(requests).toHaveLength(1);
    expect(values(requests[0] as TopicMessages[])).toEqual(['levels/a1']);
    await settle();
    expect(acked).toEqual(['a1']);
    expect(requests).toHaveLength(2);
    expect(values(requests[1] as TopicMessages[])).toEqual(['levels/a2', 'results/r1']);
    await settle();
    await Promise.all(all);
    expect(acked).toEqual(['a1', 'a2', 'r1']);
  });

  it('acknowledges nothing-to-send in its turn, without a request', async () => {
    const { send, requests, settle } = controlledSend();
    const publisher = new OrderedPublisher(send);
    const acked: string[] = [];
    const first = publisher.publish(msgs('levels', ['a1'])).then(() => void acked.push('a1'));
    const empty = publisher.publish([]).then(() => void acked.push('empty'));
    await new Promise((r) => setTimeout(r, 0));
    expect(acked).toEqual([]);
    await settle();
    await Promise.all([first, empty]);
    expect(requests).toHaveLength(1);
    expect(acked).toEqual(['a1', 'empty']);
  });

  it('splits a large backlog into requests of the configured size, in order', async () => {
    const sent: string[][] = [];
    const publisher = new OrderedPublisher(async (tm) => void sent.push(values(tm)), 2);
    await Promise.all([0, 1, 2, 3, 4, 5].map((i) => publisher.publish(msgs('t', [String(i)]))));
    expect(sent).toEqual([['t/0'], ['t/1', 't/2'], ['t/3', 't/4'], ['t/5']]);
  });

  it('a failed request fails every entry queued behind it too, then publishes new ones', async () => {
    const { send, requests, settle } = controlledSend();
    const publisher = new OrderedPublisher(send);
    const first = publisher.publish(msgs('t', ['1']));
    const second = publisher.publish(msgs('t', ['2']));
    const bothFailed = Promise.all([
      expect(first).rejects.toThrow('broker gone'),
      expect(second).rejects.toThrow('broker gone'),
    ]);
    await settle(false);
    await bothFailed;
    expect(requests).toHaveLength(1);
    const third = publisher.publish(msgs('t', ['3']));
    await settle();
    await expect(third).resolves.toBeUndefined();
    expect(values(requests[1] as TopicMessages[])).toEqual(['t/3']);
  });
});

describe('ordered publisher, re-entry', () => {
  it('publishes what an acknowledgement callback publishes (the next chunk of a partition)', async () => {
    const sent: string[][] = [];
    const publisher = new OrderedPublisher(async (tm) => void sent.push(values(tm)));
    let second: Promise<void> | undefined;
    await publisher.publish(msgs('t', ['1'])).then(() => {
      second = publisher.publish(msgs('t', ['2']));
    });
    expect(second).toBeDefined();
    const outcome = await Promise.race([
      second?.then(() => 'sent'),
      new Promise((r) => setTimeout(() => r('stuck'), 500)),
    ]);
    expect(outcome).toBe('sent');
    expect(sent).toEqual([['t/1'], ['t/2']]);
  });
});
