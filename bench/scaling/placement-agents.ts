/**
 * The idle agents of `placement.ts`, in a process of their own (as real
 * agents are: on other hosts, never on the scheduler's event loop). Forked by
 * placement.ts with its settings as JSON in argv[2]; each agent is a BullMQ
 * worker on `agent.<id>` that starts and finishes a run at once and reports
 * `running` and the result on the results stream like an agent does.
 *
 * Messages to the parent: `{ kind: 'ready' }`, then batches of
 * `{ kind: 'started', runs: [[runId, atMillis], …] }`, and on `{ kind: 'stop' }`
 * the CPU this process used since `{ kind: 'begin' }`: `{ kind: 'stopped', cpuMicros }`.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { encodeJsonMessage, queueNames, redisKeys, remediationJobSchema, remediationResultsStream } from '@sloth/core';

interface AgentsSettings {
  redisUrl: string;
  prefix: string;
  agentIds: string[];
  concurrency: number;
}

const settings = JSON.parse(process.argv[2] ?? '') as AgentsSettings;
const send = (message: unknown): void => {
  process.send?.(message);
};
const keys = redisKeys(settings.prefix);
const stream = remediationResultsStream(keys);
const reporter = new Redis(settings.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
const connections: Redis[] = [];
const workers: Worker[] = [];
let started: Array<[string, number]> = [];
let cpuBefore: NodeJS.CpuUsage | undefined;

for (const id of settings.agentIds) {
  const connection = new Redis(settings.redisUrl, { maxRetriesPerRequest: null });
  connections.push(connection);
  const worker = new Worker(
    queueNames.agent(id),
    async (job) => {
      const data = remediationJobSchema.parse(job.data);
      const at = Date.now();
      started.push([data.remediationId, at]);
      await Promise.all([
        reporter.xadd(stream, '*', ...encodeJsonMessage({ remediationId: data.remediationId, agentId: id, state: 'running', attempt: 1, atMillis: at })),
        reporter.xadd(stream, '*', ...encodeJsonMessage({ remediationId: data.remediationId, agentId: id, state: 'succeeded', attempt: 1, atMillis: Date.now(), ok: true, message: 'ok' })),
      ]);
    },
    { connection, prefix: keys.queuePrefix, concurrency: settings.concurrency },
  );
  await worker.waitUntilReady();
  workers.push(worker);
}

const flush = setInterval(() => {
  if (started.length === 0) return;
  send({ kind: 'started', runs: started });
  started = [];
}, 50);

process.on('message', (message: { kind?: string }) => {
  if (message.kind === 'begin') cpuBefore = process.cpuUsage();
  if (message.kind !== 'stop') return;
  const cpu = process.cpuUsage(cpuBefore);
  void (async () => {
    clearInterval(flush);
    if (started.length > 0) send({ kind: 'started', runs: started });
    send({ kind: 'stopped', cpuMicros: cpu.user + cpu.system });
    for (const worker of workers) await worker.close();
    for (const connection of connections) connection.disconnect();
    reporter.disconnect();
    process.disconnect();
  })();
});
// The parent gone (killed, crashed): do not linger.
process.on('disconnect', () => process.exit(0));
send({ kind: 'ready' });
