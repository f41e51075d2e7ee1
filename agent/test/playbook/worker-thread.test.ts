import { afterAll, expect, test } from 'vitest';
import { PlaybookRuntime, runPlaybook } from '../../src/playbook/index.js';
import { prestartPlaybookWorker, spawnPlaybookWorker, takePrestartedWorker } from '../../src/playbook/worker-thread.js';
import { host, load, tempDir } from './helpers.js';

const temp = tempDir('worker-thread');
afterAll(() => temp.cleanup());

test('a prestarted worker thread is taken over by the next runtime, once, and runs playbooks under the limits', async () => {
  prestartPlaybookWorker();
  prestartPlaybookWorker(); // a second call keeps the one thread
  const runtime = new PlaybookRuntime({ workers: 1 });
  try {
    await runtime.start();
    expect(takePrestartedWorker()).toBeUndefined();
    const ok = await runPlaybook(await load(runtime, 'return true, "ran " .. (6 * 7)'), { host: host(temp.dir), runtime });
    expect(ok).toMatchObject({ ok: true, message: 'ran 42' });
    const stopped = await runPlaybook(await load(runtime, 'while true do end'), { host: host(temp.dir), runtime, limits: { maxInstructions: 1_000_000 } });
    expect(stopped).toMatchObject({ ok: false, error: { code: 'SLOTH_ERR_PLAYBOOK_LIMIT', limit: 'instructions' } });
  } finally {
    await runtime.shutdown();
  }
}, 60_000);

test('a worker thread that dies before it is ready rejects its ready promise', async () => {
  const thread = spawnPlaybookWorker();
  await thread.worker.terminate();
  await expect(thread.ready).rejects.toThrow(/exited before it was ready/);
}, 60_000);
