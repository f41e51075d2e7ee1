import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  jobClockSkewMillis,
  jsonSecrets,
  queueNames,
  redactJson,
  redactText,
  redisKeys,
  remediationClaimKey,
  remediationDoneKey,
  remediationJobName,
  remediationJobSchema,
  remediationResultsStream,
  silentLogger,
  verifyRemediationJob,
  type JobRefusal,
  type JobSigningKey,
  type Logger,
  type RedactTextOptions,
  type RedisKeys,
  type RemediationJob,
  type RemediationReport,
} from '@sloth/core';
import type { PlaybookRunner, RunOutcome } from './playbook-runner.js';
import { ClaimLedger } from './claim-ledger.js';

/** The parts of the agent's telemetry the worker uses (the agent's `AgentTelemetry` fits). */
export interface JobTelemetry {
  withSpan<T>(name: string, attributes: Record<string, string | number | boolean>, fn: () => Promise<T>): Promise<T>;
  recordTaskRun(run: { kind: 'task' | 'playbook'; name: string; ok: boolean; durationMillis: number }): void;
}

export interface JobWorkerOptions {
  agentId: string;
  redisUrl: string;
  /** Redis key prefix. @defaultValue `sloth` */
  prefix?: string;
  runner: PlaybookRunner;
  telemetry?: JobTelemetry | undefined;
  logger?: Logger | undefined;
  /** Jobs run at once. @defaultValue 4 */
  concurrency?: number;
  /** How long a job's lock lives without renewal; a worker that dies loses its jobs after this. @defaultValue 30000 */
  lockDurationMillis?: number;
  /** How often stalled jobs are looked for. @defaultValue 15000 */
  stalledIntervalMillis?: number;
  /** Stalls after which a job fails instead of rerunning. @defaultValue 2 */
  maxStalledCount?: number;
  /** Results stream length kept (approximate). @defaultValue 100000 */
  maxReports?: number;
  /**
   * How long the done marker of a remediation is kept (seconds).
   * @defaultValue the redelivery window of the worker's settings ({@link redeliveryWindowMillis}), rounded up
   */
  doneTtlSeconds?: number;
  /**
   * A run's `running` report waits this long (ms): a run that ends sooner sends it with its result,
   * in the same write (the scheduler then applies both as one update of the task). Its time is the
   * run's real start either way. 0: sent before the run starts. @defaultValue 1000
   */
  runningReportDelayMillis?: number;
  /**
   * Read the done marker before a job's first delivery under its own remediation id too (BullMQ job id =
   * remediation id, started once, never stalled). Off, only a job that could follow a finished attempt is
   * checked: one delivered again (stalled, retried: `attemptsStarted` > 1) or under another job id. A job
   * re-added under the same id after BullMQ removed the finished one, within the done marker's window, would
   * then run again; no Sloth producer does that (a task attempt gets a new id; remediation and scaling jobs
   * are kept completed for 24 h, so a re-add is a BullMQ duplicate). Off by default since the idle placement
   * pairs of bench/scaling/RULES.md ("Lead's idle re-run"): the read is one round trip before every start. @defaultValue false
   */
  doneCheckOnFirstDelivery?: boolean;
  /**
   * Start a run when BullMQ hands its job over (the worker's `active` event: the job is already locked and
   * active) rather than when BullMQ calls the processor. A BullMQ worker with no job running fills its
   * fetch loop in sequence up to `concurrency` before it calls the processor of the job it just took: one
   * more round trip to Redis (an empty fetch, on an idle agent) between taking a job and starting it. The
   * processor then waits for the run that already started; each job still runs once. Adopted by the idle
   * A B A B A B runs of bench/scaling/RULES.md ("Lead's idle re-run of S1"). @defaultValue true
   */
  startOnFetch?: boolean;
  /**
   * Called as the worker takes a job, once its data is checked (benchmarks time the stages of a run with it).
   * `activeAtMillis`: the worker's clock when it asked Redis for the job (BullMQ's `processedOn`).
   */
  onJobFetched?: ((remediationId: string, atMillis: number, activeAtMillis: number | undefined) => void) | undefined;
  /**
   * The job-signing key shared with the scheduler: a job that is unsigned, signed under another key or over
   * other content, addressed to another agent, or past its signed expiry is not run but reported failed; a
   * job whose remediation id another job already took (a replay) is not run either (see `claim`), and the
   * done marker is read before every start. Without a key every job runs (anyone who can write to Redis
   * can run playbooks here) and the worker says so once at start.
   */
  signingKey?: JobSigningKey | undefined;
  /**
   * The directory of the agent's own claim ledger (required with `signingKey`): every remediation id a
   * signed job takes is written there (fsync'ed) before its playbook runs, with its result once known, so
   * a replay is refused even after the Redis claim is gone (see `claim`).
   */
  claimDir?: string | undefined;
  /** Bytes of unexpired claims the ledger holds; beyond, signed jobs fail (are not run) until claims expire. @defaultValue 64 MiB */
  claimLedgerMaxBytes?: number;
  /** How often expired claims are dropped from the ledger. @defaultValue 600000 */
  claimCompactIntervalMillis?: number;
}

/**
 * How long after an attempt finished BullMQ can still hand the same job to a worker of a running
 * agent: the attempt's lock lapses (`lockDuration`) and the stalled check sees the job twice (once
 * to mark it, once to move it back to wait: 2 × `stalledInterval`), and each of the
 * `maxStalledCount` stalls allowed can repeat that. A done marker kept this long covers every
 * redelivery of a run that finished, where the old default (7 days) kept one key per run for a
 * week: hundreds of millions of keys at 1,000 runs/s.
 *
 * Not covered: an agent that dies in the one round trip between writing its result and BullMQ's
 * completing the job, and comes back after the window, runs that job again. A task's run is by
 * then re-queued elsewhere (its agent went down) and the old run's report is ignored.
 */
export function redeliveryWindowMillis(settings: { lockDurationMillis: number; stalledIntervalMillis: number; maxStalledCount: number }): number {
  return Math.max(1, settings.maxStalledCount) * (settings.lockDurationMillis + 2 * settings.stalledIntervalMillis);
}

/** How long a signed job's claim is kept: until its signed expiry plus the clock skew (at least 1 s). */
function claimTtlMillis(data: RemediationJob, nowMillis = Date.now()): number {
  return Math.max(1000, Math.ceil((data.signature?.expiresAtMillis ?? nowMillis) + jobClockSkewMillis - nowMillis));
}

/**
 * Bytes of log and action records one report carries. The Lua runtime already keeps at most
 * 1 MiB of them per run; this guards the stream (and JSON.stringify) against any runner.
 */
export const maxReportRecordBytes = 2 * 1024 * 1024;
/** Characters of a run's message one report carries. */
const maxReportMessageChars = 65_536;

/**
 * The records that fit in {@link maxReportRecordBytes}, in order, as JSON with their secrets masked
 * (`mask`: the params' own values); a record that cannot be encoded is dropped.
 */
function reportRecords(records: readonly unknown[], budget: { bytes: number; dropped: number }, mask: RedactTextOptions): unknown[] {
  const kept: unknown[] = [];
  for (const record of records) {
    let shown: unknown;
    let bytes: number;
    try {
      shown = redactJson(JSON.parse(JSON.stringify(record) ?? 'null'), mask);
      bytes = Buffer.byteLength(JSON.stringify(shown), 'utf8');
    } catch {
      budget.dropped += 1;
      continue;
    }
    if (bytes > budget.bytes) {
      budget.dropped += 1;
      continue;
    }
    budget.bytes -= bytes;
    kept.push(shown);
  }
  return kept;
}

/** What the job returns to BullMQ (also stored under the done key). */
export interface JobReturn {
  remediationId: string;
  state: 'succeeded' | 'failed';
  ok: boolean;
  message: string;
  durationMillis: number;
  /** True when an earlier attempt had already finished and this one did nothing. */
  replayed: boolean;
}

/**
 * The agent side of the remediation loop: a BullMQ worker on `agent.<id>`
 * that runs each remediation job's playbook and reports progress and the
 * result on the results stream (the scheduler updates its audit log from it).
 *
 * Delivery is at least once: a worker killed mid-run loses its lock, BullMQ
 * marks the job stalled and another (or the restarted) worker runs it again.
 * The first finished attempt writes a done marker together with its report
 * (one MULTI), so an attempt that starts after it only replays the result,
 * and the scheduler keeps the first final report only.
 */
export class JobWorker {
  private readonly options: JobWorkerOptions;
  private readonly keys: RedisKeys;
  private readonly logger: Logger;
  private readonly lockDurationMillis: number;
  private readonly stalledIntervalMillis: number;
  private readonly maxStalledCount: number;
  /** Seconds a done marker is kept. */
  readonly doneTtlSeconds: number;
  private worker: Worker | undefined;
  /** Runs started at BullMQ's hand-over ({@link JobWorkerOptions.startOnFetch}), until the processor takes them. */
  private readonly startedAtFetch = new WeakMap<Job, Promise<JobReturn | { ignored: string }>>();
  private redis: Redis | undefined;
  private workerConnection: Redis | undefined;
  /** Kinds of refused job already logged as a warning (each kind once; later ones at debug). */
  private readonly refusalsLogged = new Set<JobRefusal['kind']>();
  private ledger: ClaimLedger | undefined;

  constructor(options: JobWorkerOptions) {
    this.options = options;
    this.keys = redisKeys(options.prefix ?? 'sloth');
    this.logger = options.logger ?? silentLogger();
    this.lockDurationMillis = options.lockDurationMillis ?? 30_000;
    this.stalledIntervalMillis = options.stalledIntervalMillis ?? 15_000;
    this.maxStalledCount = options.maxStalledCount ?? 2;
    const window = redeliveryWindowMillis({ lockDurationMillis: this.lockDurationMillis, stalledIntervalMillis: this.stalledIntervalMillis, maxStalledCount: this.maxStalledCount });
    this.doneTtlSeconds = options.doneTtlSeconds ?? Math.ceil(window / 1000);
    if (!Number.isInteger(this.doneTtlSeconds) || this.doneTtlSeconds < 1) throw new Error(`doneTtlSeconds must be a whole number of seconds ≥ 1, got ${this.doneTtlSeconds}`);
    if (options.signingKey !== undefined && options.claimDir === undefined) throw new Error('a job worker with a signing key needs claimDir (the agent state directory where it records the remediation ids it took)');
  }

  get queueName(): string {
    return queueNames.agent(this.options.agentId);
  }

  async start(): Promise<void> {
    // Reports from concurrent jobs issued in the same tick share one write.
    if (this.options.signingKey !== undefined && this.options.claimDir !== undefined) {
      const ledger = new ClaimLedger(this.options.claimDir, { maxBytes: this.options.claimLedgerMaxBytes ?? 64 * 1024 * 1024, compactIntervalMillis: this.options.claimCompactIntervalMillis ?? 600_000 });
      await ledger.open();
      this.ledger = ledger;
    }
    const redis = new Redis(this.options.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
    redis.on('error', (error) => this.logger.warn({ err: error }, 'job worker Redis error'));
    this.redis = redis;
    // BullMQ does not close a connection it was handed: keep it and close it on shutdown.
    const workerConnection = new Redis(this.options.redisUrl, { maxRetriesPerRequest: null });
    workerConnection.on('error', (error) => this.logger.warn({ err: error }, 'job worker Redis error'));
    this.workerConnection = workerConnection;
    const worker = new Worker(this.queueName, (job) => this.takeStarted(job) ?? this.process(job), {
      connection: workerConnection,
      prefix: this.keys.queuePrefix,
      concurrency: this.options.concurrency ?? 4,
      lockDuration: this.lockDurationMillis,
      stalledInterval: this.stalledIntervalMillis,
      maxStalledCount: this.maxStalledCount,
      autorun: false,
    });
    worker.on('error', (error) => this.logger.warn({ err: error }, 'job worker error'));
    if (this.options.startOnFetch !== false) {
      // The same Job object goes on to the processor, which takes this run instead of starting another.
      // A job BullMQ fails without processing (a deferred failure, which Sloth's producers never set) is not started.
      worker.on('active', (job) => {
        if (job.deferredFailure) return;
        const run = this.process(job);
        void run.catch(() => undefined); // the processor hands a failure to BullMQ; this only keeps it from being unhandled meanwhile
        this.startedAtFetch.set(job, run);
      });
    }
    worker.on('failed', (job, error) => {
      // Reached only when BullMQ gives up (stalled too often): the processor itself never throws.
      if (job === undefined) return;
      const parsed = remediationJobSchema.safeParse(job.data);
      if (!parsed.success) return;
      void this.report({
        remediationId: parsed.data.remediationId,
        agentId: this.options.agentId,
        state: 'failed',
        attempt: Math.max(1, job.attemptsStarted),
        atMillis: Date.now(),
        ok: false,
        error: error.message,
        message: `job failed: ${error.message}`,
      }).catch((reportError: unknown) => this.logger.error({ err: reportError }, 'cannot report a failed job'));
    });
    this.worker = worker;
    void worker.run().catch((error: unknown) => this.logger.error({ err: error }, 'job worker stopped'));
    await worker.waitUntilReady();
    if (this.options.signingKey === undefined) {
      this.logger.warn(
        { queue: this.queueName },
        'no job-signing key configured (agent.jobSigningKeyFile, SLOTH_JOB_SIGNING_KEY_FILE): anyone who can write to this Redis can run playbooks on this agent; give it the key its scheduler signs with',
      );
    }
    this.logger.info({ queue: this.queueName, jobSigningKeyId: this.options.signingKey?.keyId }, 'remediation job worker started');
  }

  /** Stops taking jobs, waits for running ones (at most `drainMillis`), closes connections. */
  async shutdown(drainMillis = 30_000): Promise<void> {
    const worker = this.worker;
    if (worker !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([worker.close().then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), drainMillis)))]);
      clearTimeout(timer);
      if (!closed) {
        // Redis gone or a run that does not end: stop anyway; BullMQ reruns what was in flight (stalled).
        this.logger.warn({ drainMillis }, 'job worker did not drain in time; closing anyway');
        void worker.close(true).catch(() => undefined);
      }
    }
    this.redis?.disconnect();
    this.workerConnection?.disconnect();
    await this.ledger?.close();
    this.ledger = undefined;
    this.workerConnection = undefined;
    this.worker = undefined;
    this.redis = undefined;
  }

  /** The run a hand-over already started for this job, once (see {@link JobWorkerOptions.startOnFetch}). */
  private takeStarted(job: Job): Promise<JobReturn | { ignored: string }> | undefined {
    const run = this.startedAtFetch.get(job);
    this.startedAtFetch.delete(job);
    return run;
  }

  private async process(job: Job): Promise<JobReturn | { ignored: string }> {
    if (job.name !== remediationJobName) return { ignored: `unknown job name ${job.name}` };
    const parsed = remediationJobSchema.safeParse(job.data);
    if (!parsed.success) {
      this.logger.warn({ jobId: job.id, problem: parsed.error.message }, 'ignoring a malformed remediation job');
      return { ignored: parsed.error.message };
    }
    const data = parsed.data;
    this.options.onJobFetched?.(data.remediationId, Date.now(), job.processedOn);
    const attempt = Math.max(1, job.attemptsStarted);
    const key = this.options.signingKey;
    const redis = this.client();
    const doneKey = remediationDoneKey(this.keys, data.remediationId);
    let previous: unknown;
    let claimed = false;
    if (key !== undefined) {
      const verdict = verifyRemediationJob(data, key, this.options.agentId);
      if (!verdict.ok) return this.refuse(job, data, attempt, verdict, key.keyId);
      const claim = await this.claim(job, data, doneKey);
      // Not reported: the remediation's own run (finished, or running now) reports for this id.
      if (claim.kind === 'replayed') return this.refuse(job, data, attempt, claim, key.keyId, { report: false, claimedByJobId: claim.claimedBy });
      if (claim.kind === 'finished') {
        this.logger.info({ remediationId: data.remediationId, attempt }, 'remediation already finished (agent claim ledger); replaying its result');
        return { ...claim.result, replayed: true };
      }
      previous = claim.previous;
      claimed = true;
    }
    const running: RemediationReport = { remediationId: data.remediationId, agentId: this.options.agentId, state: 'running', attempt, atMillis: Date.now() };
    const runningDelay = this.options.runningReportDelayMillis ?? 1000;
    // One round trip: look for an earlier attempt's result (and, without a delay, announce this one: a
    // `running` report after a final one is ignored by the scheduler, so sending it unconditionally is safe).
    let runningSent: Promise<void> | undefined;
    // A first delivery under the job's own id cannot follow a finished attempt (see doneCheckOnFirstDelivery).
    const firstDelivery = job.id === data.remediationId && job.attemptsStarted <= 1 && job.stalledCounter === 0;
    if (runningDelay <= 0) {
      const replies = await redis.pipeline().get(doneKey).xadd(remediationResultsStream(this.keys), 'MAXLEN', '~', this.options.maxReports ?? 100_000, '*', 'data', JSON.stringify(running)).exec();
      previous = replies?.[0]?.[1];
      runningSent = Promise.resolve();
    } else if (!claimed && (!firstDelivery || this.options.doneCheckOnFirstDelivery === true)) {
      previous = await redis.get(doneKey);
    }
    if (typeof previous === 'string') {
      this.logger.info({ remediationId: data.remediationId, attempt }, 'remediation already finished; replaying its result');
      return { ...(JSON.parse(previous) as JobReturn), replayed: true };
    }
    const runId = `${data.remediationId}-${attempt}`;
    const attributes = {
      'sloth.remediation.id': data.remediationId,
      'sloth.playbook.name': data.playbook.name,
      'sloth.playbook.version': data.playbook.version,
      'sloth.remediation.attempt': attempt,
      'sloth.remediation.dry_run': data.dryRun,
    };
    const run = async (): Promise<RunOutcome> => {
      try {
        return await this.options.runner.run(data, runId);
      } catch (error) {
        return { ok: false, message: `playbook run failed: ${(error as Error).message}`, durationMillis: 0, logs: [], error: { code: 'SLOTH_ERR_INTERNAL', message: (error as Error).message } };
      }
    };
    const telemetry = this.options.telemetry;
    // A run still going after the delay is announced on its own.
    const runningTimer =
      runningSent === undefined
        ? setTimeout(() => {
            runningSent = this.report(running).catch((error: unknown) => this.logger.warn({ err: error, remediationId: data.remediationId }, 'cannot report a running job'));
          }, runningDelay)
        : undefined;
    const outcome = telemetry === undefined ? await run() : await telemetry.withSpan(`playbook ${data.playbook.name}`, attributes, run);
    clearTimeout(runningTimer);
    telemetry?.recordTaskRun({ kind: 'playbook', name: data.playbook.name, ok: outcome.ok, durationMillis: outcome.durationMillis });
    const state = outcome.ok ? 'succeeded' : 'failed';
    // What the run reports goes to Redis and the scheduler's audit log: secrets masked here, at the source,
    // the params' own secret values wherever a log line, an action or the message quotes them.
    const mask = { paramSecrets: jsonSecrets(data.params) };
    // The playbook's own return message: kept short too, it goes into the report and the done marker.
    const fullMessage = redactText(outcome.message, mask);
    const message = fullMessage.length > maxReportMessageChars ? `${fullMessage.slice(0, maxReportMessageChars)}… (truncated)` : fullMessage;
    const result: JobReturn = { remediationId: data.remediationId, state, ok: outcome.ok, message, durationMillis: outcome.durationMillis, replayed: false };
    const budget = { bytes: maxReportRecordBytes, dropped: 0 };
    const logs = reportRecords(outcome.logs, budget, mask);
    const actions = reportRecords(outcome.actions ?? [], budget, mask);
    if (budget.dropped > 0) {
      logs.push({ level: 'warn', message: `${budget.dropped} log or action record(s) left out of the report: a report carries at most ${maxReportRecordBytes} bytes of them`, attrs: {}, timestampMillis: Date.now() });
    }
    const report: RemediationReport = {
      remediationId: data.remediationId,
      agentId: this.options.agentId,
      state,
      attempt,
      atMillis: Date.now(),
      ok: outcome.ok,
      message,
      durationMillis: outcome.durationMillis,
      logs,
      actions,
      ...(outcome.error === undefined ? {} : { error: redactText(`${outcome.error.code}: ${outcome.error.message}`, mask) }),
    };
    // On disk first: once this returns, a redelivery of this job returns the result instead of running.
    if (key !== undefined) await this.ledger?.finish(data.remediationId, String(job.id), result);
    // A signed job's done marker lives as long as its claim, so a finished job retried within its validity only replays.
    const doneTtlSeconds = key === undefined ? this.doneTtlSeconds : Math.max(this.doneTtlSeconds, Math.ceil(claimTtlMillis(data) / 1000));
    const final = redis.multi().set(doneKey, JSON.stringify(result), 'EX', doneTtlSeconds);
    // Not announced yet (a short run): the `running` report goes first in the same transaction.
    if (runningSent === undefined) final.xadd(remediationResultsStream(this.keys), 'MAXLEN', '~', this.options.maxReports ?? 100_000, '*', 'data', JSON.stringify(running));
    else await runningSent;
    await final.xadd(remediationResultsStream(this.keys), 'MAXLEN', '~', this.options.maxReports ?? 100_000, '*', 'data', JSON.stringify(report)).exec();
    this.logger.info({ remediationId: data.remediationId, playbook: data.playbook.name, state, durationMillis: outcome.durationMillis }, 'remediation finished');
    return result;
  }

  /**
   * Takes the remediation id of a signed job for this BullMQ job, first in the agent's own claim ledger
   * (on disk, fsync'ed), then in Redis (the claim key, set NX until the signature expires plus the clock
   * skew, read back with the done marker in the same round trip). The ledger decides first, since Redis
   * is where an attacker writes: an id taken there by another job is a replay; taken by this job, it
   * replays the recorded result or, with none recorded (a run that stalled or crashed), runs again. Then
   * Redis: taken by another job, or by this very job on its first delivery (re-added under the same id
   * once BullMQ removed the finished one), the job is a replay.
   */
  private async claim(
    job: Job,
    data: RemediationJob,
    doneKey: string,
  ): Promise<{ kind: 'ok'; previous: unknown } | { kind: 'finished'; result: JobReturn } | ({ kind: 'replayed'; claimedBy: string } & JobRefusal)> {
    const jobId = String(job.id);
    const ledger = this.ledger;
    if (ledger === undefined) throw new Error('job worker not started');
    const ttlMillis = claimTtlMillis(data);
    // Throws ClaimLedgerFullError (the job fails, its playbook not run) rather than run without a claim.
    const onDisk = await ledger.take(data.remediationId, jobId, Date.now() + ttlMillis);
    if (onDisk.entry.jobId !== jobId) {
      return { kind: 'replayed', claimedBy: onDisk.entry.jobId, reason: `remediation ${data.remediationId} was already taken by job ${onDisk.entry.jobId}: job ${jobId} is a replay` };
    }
    if (onDisk.entry.result !== undefined) return { kind: 'finished', result: onDisk.entry.result };
    const claimKey = remediationClaimKey(this.keys, data.remediationId);
    const replies = await this.client().pipeline().set(claimKey, jobId, 'PX', ttlMillis, 'NX').get(claimKey).get(doneKey).exec();
    const [set, holder, previous] = (replies ?? []).map(([error, value]) => {
      if (error !== null) throw error;
      return value;
    });
    if (set === 'OK') return { kind: 'ok', previous };
    const fresh = job.attemptsStarted <= 1 && job.stalledCounter === 0;
    // Held on disk by this job before this delivery: a redelivery of a run that did not finish.
    if (holder === jobId && (!fresh || !onDisk.taken)) return { kind: 'ok', previous };
    // Refused by Redis alone (a ledger that lost its file): the id goes back, the Redis holder keeps it.
    if (onDisk.taken) await ledger.release(data.remediationId, jobId);
    const claimedBy = typeof holder === 'string' ? holder : 'an earlier job';
    const reason =
      holder === jobId
        ? `job ${jobId} was added again after it had been taken: a replay of remediation ${data.remediationId}`
        : `remediation ${data.remediationId} was already taken by job ${claimedBy}: job ${jobId} is a replay`;
    return { kind: 'replayed', reason, claimedBy };
  }

  /**
   * Refuses a job: its playbook is not run, and (unless `report` is false) it is reported failed with the
   * reason. No done marker: a refused job must not settle the remediation id for a genuine job that comes
   * later. Logged without the job's params or source, which may hold secrets.
   */
  private async refuse(job: Job, data: RemediationJob, attempt: number, refusal: JobRefusal, keyId: string, options: { report?: boolean; claimedByJobId?: string } = {}): Promise<JobReturn> {
    const { remediationId } = data;
    const fields = {
      remediationId,
      jobId: job.id,
      playbook: data.playbook.name,
      addressedTo: data.agentId,
      refusal: refusal.kind,
      signedByKeyId: data.signature?.keyId,
      agentKeyId: keyId,
      ...(data.signature?.issuedAtMillis === undefined ? {} : { signedAt: new Date(data.signature.issuedAtMillis).toISOString() }),
      ...(data.signature?.expiresAtMillis === undefined ? {} : { expiresAt: new Date(data.signature.expiresAtMillis).toISOString() }),
      ...(options.claimedByJobId === undefined ? {} : { claimedByJobId: options.claimedByJobId }),
    };
    if (this.refusalsLogged.has(refusal.kind)) {
      this.logger.debug(fields, `remediation job refused: ${refusal.reason}`);
    } else {
      this.refusalsLogged.add(refusal.kind);
      this.logger.warn(fields, `remediation job refused, its playbook not run: ${refusal.reason} (further refusals of this kind are logged at debug level)`);
    }
    if (options.report !== false) {
      await this.report({ remediationId, agentId: this.options.agentId, state: 'failed', attempt, atMillis: Date.now(), ok: false, message: refusal.reason, error: `SLOTH_ERR_FORBIDDEN: ${refusal.reason}`, durationMillis: 0 });
    }
    return { remediationId, state: 'failed', ok: false, message: refusal.reason, durationMillis: 0, replayed: false };
  }

  private async report(report: RemediationReport): Promise<void> {
    await this.client().xadd(remediationResultsStream(this.keys), 'MAXLEN', '~', this.options.maxReports ?? 100_000, '*', 'data', JSON.stringify(report));
  }

  private client(): Redis {
    if (this.redis === undefined) throw new Error('job worker not started');
    return this.redis;
  }
}

/** Starts a remediation job worker on `agent.<agentId>`. */
export async function startJobWorker(options: JobWorkerOptions): Promise<JobWorker> {
  const worker = new JobWorker(options);
  await worker.start();
  return worker;
}
