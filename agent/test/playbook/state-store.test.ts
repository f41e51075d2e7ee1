import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { FileStateStore, type PlaybookStateStore } from '../../src/playbook/index.js';
import { tempDir } from './helpers.js';

const temp = tempDir('state-store');
afterAll(() => temp.cleanup());
let counter = 0;

/** The contract every PlaybookStateStore must keep (run it against each implementation). */
function stateStoreContract(name: string, create: () => PlaybookStateStore): void {
  describe(`${name} (PlaybookStateStore contract)`, () => {
    test('get of a missing key is undefined; set then get returns a copy of the JSON value', async () => {
      const store = create();
      expect(await store.get('missing')).toBeUndefined();
      const value = { a: [1, 2, { b: 'c' }], n: 1.5, t: true };
      await store.set('k', value);
      value.n = 99;
      expect(await store.get('k')).toEqual({ a: [1, 2, { b: 'c' }], n: 1.5, t: true });
      await store.set('k', undefined);
      expect(await store.get('k')).toBeUndefined();
    });

    test('incr is atomic under concurrency and starts from 0', async () => {
      const store = create();
      const results = await Promise.all(Array.from({ length: 50 }, () => store.incr('hits', 2)));
      expect(new Set(results).size).toBe(50);
      expect(await store.get('hits')).toBe(100);
      await store.set('text', 'x');
      await expect(store.incr('text', 1)).rejects.toThrow(/holds a string, not a number/);
    });

    test('cas sets only when the current value equals the expected one; exactly one racer wins', async () => {
      const store = create();
      expect(await store.cas('lock', undefined, 'a')).toBe(true);
      expect(await store.cas('lock', undefined, 'b')).toBe(false);
      expect(await store.cas('lock', 'a', { owner: 'c' })).toBe(true);
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => store.cas('lock', { owner: 'c' }, { owner: `r${i}` })));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });
  });
}

stateStoreContract('FileStateStore', () => new FileStateStore(join(temp.dir, `s${(counter += 1)}`, 'playbook-state.json')));

describe('FileStateStore', () => {
  test('persists across instances (an agent restart)', async () => {
    const file = join(temp.dir, 'persist', 'playbook-state.json');
    await new FileStateStore(file).set('restarts', { nginx: 3 });
    expect(await new FileStateStore(file).get('restarts')).toEqual({ nginx: 3 });
  });

  test('a corrupt file is a clear storage error, not a silent reset', async () => {
    const file = join(temp.dir, 'corrupt.json');
    writeFileSync(file, '{ not json');
    await expect(new FileStateStore(file).get('x')).rejects.toMatchObject({ code: 'SLOTH_ERR_STORAGE', message: expect.stringMatching(/corrupt\.json is unreadable/) });
  });
});
