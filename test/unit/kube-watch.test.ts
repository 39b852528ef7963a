import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/api/resource.js';
import type { WatchEvent } from '../../src/store/config-store.js';
import { ListWatch, type ListWatchSource, type RawWatchEvent } from '../../src/store/kube-watch.js';

// The reconnect logic of the kube store's watch, against a scripted API server. The integration
// tests cover real dropped connections; these cover what a real server rarely does on demand:
// answering 410 Gone, as a status and as an ERROR event in the stream.

const obj = (name: string, rv: string): Resource => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns', resourceVersion: rv } });

interface Stream {
  from: string;
  emit(e: RawWatchEvent): void;
  close(err: unknown): void;
  aborted: boolean;
}

function fakeSource(lists: { items: Resource[]; resourceVersion: string }[]) {
  const streams: Stream[] = [];
  let listCalls = 0;
  const source: ListWatchSource = {
    list: async () => {
      const l = lists[Math.min(listCalls, lists.length - 1)];
      listCalls++;
      if (!l) throw new Error('no list scripted');
      return structuredClone(l);
    },
    watch: async (from, onEvent, onClose) => {
      let closed = false;
      const s: Stream = {
        from,
        aborted: false,
        emit: (e) => !closed && onEvent(e),
        close: (err) => {
          if (closed) return;
          closed = true;
          onClose(err);
        },
      };
      streams.push(s);
      return {
        abort: () => {
          s.aborted = true;
          s.close(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        },
      };
    },
    toError: (err) => (err instanceof Error ? err : new Error(JSON.stringify(err))),
  };
  return { source, streams, lists: () => listCalls };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

const names = (events: WatchEvent[]) => events.map((e) => `${e.type} ${e.resource.metadata.name}@${e.resource.metadata.resourceVersion}`);

describe('ListWatch', () => {
  it('lists first (ADDED), then watches from the list resourceVersion and follows events', async () => {
    const { source, streams } = fakeSource([{ items: [obj('a', '5')], resourceVersion: '10' }]);
    const events: WatchEvent[] = [];
    const lw = new ListWatch(source, (e) => events.push(e), () => {}, { initialMs: 1, maxMs: 4 });
    await lw.start();
    await until(() => streams.length === 1);
    expect(streams[0]?.from).toBe('10');
    streams[0]?.emit({ type: 'MODIFIED', object: obj('a', '11') });
    streams[0]?.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } });
    expect(names(events)).toEqual(['ADDED a@5', 'MODIFIED a@11']);
    expect(lw.resourceVersion).toBe('15');
    await lw.stop();
    expect(streams[0]?.aborted).toBe(true);
  });

  it('resumes from the last resourceVersion after a clean close, without listing again', async () => {
    const { source, streams, lists } = fakeSource([{ items: [], resourceVersion: '10' }]);
    const events: WatchEvent[] = [];
    const lw = new ListWatch(source, (e) => events.push(e), () => {}, { initialMs: 1, maxMs: 4 });
    await lw.start();
    await until(() => streams.length === 1);
    streams[0]?.emit({ type: 'ADDED', object: obj('b', '12') });
    streams[0]?.close(null);
    await until(() => streams.length === 2);
    expect(streams[1]?.from).toBe('12');
    expect(lists()).toBe(1);
    await lw.stop();
  });

  it('re-lists on 410 Gone and emits the difference as synthetic events', async () => {
    const { source, streams, lists } = fakeSource([
      { items: [obj('keep', '1'), obj('change', '2'), obj('gone', '3')], resourceVersion: '10' },
      { items: [obj('keep', '1'), obj('change', '20'), obj('new', '21')], resourceVersion: '30' },
    ]);
    const events: WatchEvent[] = [];
    const errors: Error[] = [];
    const lw = new ListWatch(source, (e) => events.push(e), (e) => errors.push(e), { initialMs: 1, maxMs: 4 });
    await lw.start();
    await until(() => streams.length === 1);
    events.length = 0;
    // The API server says our resourceVersion was compacted away, as an ERROR event in the stream.
    streams[0]?.emit({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } });
    await until(() => streams.length === 2);
    expect(lists()).toBe(2);
    expect(names(events)).toEqual(['DELETED gone@3', 'MODIFIED change@20', 'ADDED new@21']);
    expect(streams[1]?.from).toBe('30');
    expect(errors).toEqual([]);

    // And as the HTTP status of the watch request itself.
    events.length = 0;
    streams[1]?.close(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await until(() => streams.length === 3);
    expect(lists()).toBe(3);
    expect(events).toEqual([]); // nothing changed between the second and third list
    await lw.stop();
  });

  it('reports failures, backs off with a bound, and keeps trying until stopped', async () => {
    const { source, streams } = fakeSource([{ items: [], resourceVersion: '10' }]);
    const errors: Error[] = [];
    const lw = new ListWatch(source, () => {}, (e) => errors.push(e), { initialMs: 1, maxMs: 8 });
    await lw.start();
    for (let i = 1; i <= 6; i++) {
      await until(() => streams.length === i);
      streams[i - 1]?.close(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    }
    await until(() => streams.length === 7);
    expect(errors).toHaveLength(6);
    expect(streams.every((s) => s.from === '10')).toBe(true);
    await lw.stop();
    const n = streams.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(streams.length).toBe(n);
  });

  it('a throwing event handler is reported, and the watch goes on', async () => {
    const { source, streams } = fakeSource([{ items: [], resourceVersion: '1' }]);
    const errors: Error[] = [];
    const seen: string[] = [];
    const lw = new ListWatch(
      source,
      (e) => {
        seen.push(e.resource.metadata.name);
        if (e.resource.metadata.name === 'bad') throw new Error('handler failed');
      },
      (e) => errors.push(e),
      { initialMs: 1, maxMs: 4 },
    );
    await lw.start();
    await until(() => streams.length === 1);
    streams[0]?.emit({ type: 'ADDED', object: obj('bad', '2') });
    streams[0]?.emit({ type: 'ADDED', object: obj('good', '3') });
    expect(seen).toEqual(['bad', 'good']);
    expect(errors.map((e) => e.message)).toEqual(['handler failed']);
    await lw.stop();
  });
});
