import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { processEnv, type ConfigSources } from './config.js';
import { SlothError } from './errors.js';
import { readRegularFile } from './regular-file.js';
import type { RemediationJob } from './remediation.js';
import { createSecretFileOnce, ownerOnlyCheck } from './tokens.js';

/**
 * Signed remediation jobs. Whoever can write to Redis can add a job to `agent.<id>`, and the agent runs the
 * Lua source a job carries; the Redis password is one secret for every queue. The scheduler therefore signs
 * each job it enqueues with HMAC-SHA256 under a key the agents hold too, and an agent with a key runs only
 * jobs whose signature matches and that are addressed to it. The signature covers what decides what runs
 * and where, and when the job was signed and until when it may start (see {@link jobSigningPayload}): a
 * captured job re-added later is refused once it expired, and before that the agent refuses a remediation id
 * it has already taken (its claim marker, see the agent's job worker).
 */

/** Random bytes in a key `sloth up` makes; the least a key file may hold. */
export const jobSigningKeyBytes = 32;

/** Version of {@link jobSigningPayload}: a job signed under another layout is refused, not misread. 2: with the validity window. */
export const jobSignatureVersion = 2;

/** How long a signed job may wait to start when its producer names no validity: the scheduler's default result timeout. */
export const defaultJobValidityMillis = 3_600_000;

/** The longest validity a job may be signed for (a task's longest timeout, 7 days, and a day's margin). */
export const maxJobValidityMillis = 8 * 24 * 3_600_000;

/**
 * Clock difference tolerated between the scheduler that signs and the agent that checks: a job counts as
 * expired only this long after its `expiresAtMillis` by the agent's clock, and one issued up to this far in
 * the agent's future is accepted. Keep hosts on NTP; a larger skew makes agents refuse fresh jobs.
 */
export const jobClockSkewMillis = 60_000;

/** File name of the key `sloth up` makes in its data dir. */
const keyFileName = 'job-signing.key';

/** Where `sloth up` keeps the job-signing key of a data dir. */
export function jobSigningKeyPath(dataDir: string): string {
  return join(dataDir, keyFileName);
}

/**
 * A job-signing key. The secret stays inside: logging or serialising the key shows only its id
 * (a digest that tells two keys apart without revealing either).
 */
export class JobSigningKey {
  readonly #secret: Buffer;
  /** 16 hex digits identifying the key (not secret). */
  readonly keyId: string;

  constructor(secret: Buffer) {
    if (secret.length < jobSigningKeyBytes) throw new SlothError('SLOTH_ERR_CONFIG', `a job-signing key must hold at least ${jobSigningKeyBytes} bytes, got ${secret.length}`);
    this.#secret = Buffer.from(secret);
    this.keyId = createHash('sha256').update('sloth job-signing key id\u0000').update(secret).digest('hex').slice(0, 16);
  }

  /** HMAC-SHA256 of `payload`, hex. */
  hmacHex(payload: string): string {
    return createHmac('sha256', this.#secret).update(payload, 'utf8').digest('hex');
  }

  /**
   * The key as hex, in the cases a key file holds it: for masking text that could show it (a task that
   * prints the key file). Never log these.
   */
  maskForms(): string[] {
    const hex = this.#secret.toString('hex');
    return [hex, hex.toUpperCase()];
  }

  toJSON(): { keyId: string } {
    return { keyId: this.keyId };
  }

  [inspect.custom](): string {
    return `JobSigningKey { keyId: '${this.keyId}' }`;
  }
}

/** The key file's text: hex (64 or more digits, whitespace around it ignored). */
const keyShape = /^(?:[0-9a-fA-F]{2}){32,1024}$/;

/**
 * Reads a job-signing key file: a regular file of mode 0600 (as a token file) holding at least
 * {@link jobSigningKeyBytes} bytes as hex (`openssl rand -hex 32 > FILE`). Throws a `SLOTH_ERR_CONFIG`
 * naming the file and the fix; never quotes the content.
 */
export function readJobSigningKey(path: string): JobSigningKey {
  const read = readRegularFile(path, { maxBytes: 4096, check: ownerOnlyCheck(path) });
  if (!read.ok) throw new SlothError('SLOTH_ERR_CONFIG', `job-signing key file ${path} ${read.problem}`, { details: { path } });
  const text = read.bytes.toString('utf8').trim();
  if (!keyShape.test(text)) {
    throw new SlothError('SLOTH_ERR_CONFIG', `job-signing key file ${path} does not hold a key: write at least ${jobSigningKeyBytes} random bytes as hex (openssl rand -hex ${jobSigningKeyBytes} > ${path}; chmod 600 ${path})`, { details: { path } });
  }
  return new JobSigningKey(Buffer.from(text, 'hex'));
}

/** The key of `sloth up`'s data dir (`<dataDir>/job-signing.key`, mode 0600), made when there is none yet. */
export function ensureJobSigningKey(dataDir: string): { path: string; key: JobSigningKey } {
  const path = jobSigningKeyPath(dataDir);
  createSecretFileOnce(path, jobSigningKeyBytes);
  return { path, key: readJobSigningKey(path) };
}

/**
 * JSON with object keys sorted at every level, after a JSON round trip (what the agent sees once BullMQ
 * stored the job: `undefined` members gone, dates as strings). `undefined` itself is `null`.
 */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? 'null' : JSON.stringify(sortKeys(JSON.parse(text) as unknown));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted;
}

/** When a signed job was signed and until when it may start, Unix milliseconds (the signer's clock). */
export interface JobValidity {
  issuedAtMillis: number;
  expiresAtMillis: number;
}

/**
 * What a signature covers, canonically: the remediation id, the agent id, the playbook's name, version
 * and source digest, the params, dry-run, the triggering event and the validity window. Not covered:
 * `fileName` (error messages only) and the job's own timestamps (the scheduler sets `enqueuedAtMillis` as it queues).
 */
export function jobSigningPayload(job: Pick<RemediationJob, 'remediationId' | 'agentId' | 'playbook' | 'params' | 'dryRun' | 'event'>, validity: JobValidity): string {
  const sourceSha256 = createHash('sha256').update(job.playbook.source, 'utf8').digest('hex');
  return JSON.stringify([
    'sloth-remediation-job',
    jobSignatureVersion,
    validity.issuedAtMillis,
    validity.expiresAtMillis,
    job.remediationId,
    job.agentId,
    job.playbook.name,
    job.playbook.version,
    sourceSha256,
    canonicalJson(job.params ?? {}),
    job.dryRun === true,
    canonicalJson(job.event),
  ]);
}

export interface SignOptions {
  /** How long the job may wait to start, from now; at most {@link maxJobValidityMillis}. @defaultValue {@link defaultJobValidityMillis} */
  validForMillis?: number | undefined;
  /** @defaultValue Date.now() */
  nowMillis?: number | undefined;
}

/**
 * `job` with its signature under `key`, valid from now for `validForMillis`; `job` itself, unsigned,
 * without a key. Throws `SLOTH_ERR_CONFIG` for a validity that is not in (0, {@link maxJobValidityMillis}].
 */
export function signRemediationJob(job: RemediationJob, key: JobSigningKey | undefined, options: SignOptions = {}): RemediationJob {
  if (key === undefined) return job;
  const validFor = options.validForMillis ?? defaultJobValidityMillis;
  if (!(validFor > 0 && validFor <= maxJobValidityMillis)) {
    throw new SlothError('SLOTH_ERR_CONFIG', `a signed job's validity must be more than 0 and at most ${maxJobValidityMillis} ms (8 days), got ${validFor}`);
  }
  const issuedAtMillis = Math.floor(options.nowMillis ?? Date.now());
  const validity = { issuedAtMillis, expiresAtMillis: issuedAtMillis + Math.ceil(validFor) };
  return { ...job, signature: { version: jobSignatureVersion, keyId: key.keyId, ...validity, hmac: key.hmacHex(jobSigningPayload(job, validity)) } };
}

/**
 * Why an agent refuses a job; each kind has its own message. `expired` and `early` are decided by the
 * agent's clock (see {@link jobClockSkewMillis}); `replayed` by the agent's claim on the remediation id.
 */
export type JobRefusal = { kind: 'missing' | 'mismatch' | 'wrong-agent' | 'expired' | 'early' | 'replayed'; reason: string };

/**
 * Whether the agent `agentId` holding `key` may start `job` at `nowMillis`: signed by that key over this
 * very content and validity window, addressed to this agent, and not expired. The comparison takes the
 * same time wherever the digests differ. Whether the job was already run is the caller's to check.
 */
export function verifyRemediationJob(job: RemediationJob, key: JobSigningKey, agentId: string, nowMillis = Date.now()): { ok: true } | ({ ok: false } & JobRefusal) {
  if (job.agentId !== agentId) return { ok: false, kind: 'wrong-agent', reason: `job for agent ${job.agentId} arrived at agent ${agentId}` };
  const signature = job.signature;
  if (signature === undefined) return { ok: false, kind: 'missing', reason: 'job signature missing' };
  if (signature.version !== jobSignatureVersion) {
    return { ok: false, kind: 'mismatch', reason: `job signed under layout version ${signature.version}, this agent checks version ${jobSignatureVersion}: run the same Sloth version on the scheduler and its agents` };
  }
  const { issuedAtMillis, expiresAtMillis } = signature;
  const windowed = typeof issuedAtMillis === 'number' && typeof expiresAtMillis === 'number';
  const expected = Buffer.from(key.hmacHex(jobSigningPayload(job, { issuedAtMillis: issuedAtMillis ?? 0, expiresAtMillis: expiresAtMillis ?? 0 })), 'hex');
  const wellFormed = /^[0-9a-f]{64}$/.test(signature.hmac);
  // A malformed HMAC is compared as zeros: the comparison takes the same time either way.
  const presented = wellFormed ? Buffer.from(signature.hmac, 'hex') : Buffer.alloc(expected.length);
  const matches = timingSafeEqual(expected, presented) && wellFormed && windowed;
  if (!matches || !windowed) return { ok: false, kind: 'mismatch', reason: "job signature does not match: not queued by a scheduler holding this agent's key" };
  if (expiresAtMillis - issuedAtMillis > maxJobValidityMillis) {
    return { ok: false, kind: 'expired', reason: `job signed valid for ${expiresAtMillis - issuedAtMillis} ms, more than the ${maxJobValidityMillis} ms an agent accepts` };
  }
  if (nowMillis > expiresAtMillis + jobClockSkewMillis) {
    return {
      ok: false,
      kind: 'expired',
      reason: `job expired at ${new Date(expiresAtMillis).toISOString()} (signed ${new Date(issuedAtMillis).toISOString()}; ${jobClockSkewMillis / 1000} s of clock skew allowed): too old to start, or a captured job added again`,
    };
  }
  if (issuedAtMillis > nowMillis + jobClockSkewMillis) {
    return { ok: false, kind: 'early', reason: `job signed at ${new Date(issuedAtMillis).toISOString()}, ahead of this agent's clock by more than ${jobClockSkewMillis / 1000} s: check both hosts' clocks (NTP)` };
  }
  return { ok: true };
}

/**
 * `SLOTH_JOB_SIGNING_KEY_FILE` names the key for the scheduler and the agent alike: it stands for
 * `SLOTH_<ROLE>_JOB_SIGNING_KEY_FILE` when that is not set.
 */
export function withSharedKeyFile(role: string, sources: ConfigSources): ConfigSources {
  const env = sources.env ?? processEnv();
  const shared = env.SLOTH_JOB_SIGNING_KEY_FILE;
  const own = `SLOTH_${role}_JOB_SIGNING_KEY_FILE`;
  if (shared === undefined || shared === '' || (env[own] !== undefined && env[own] !== '')) return sources;
  return { ...sources, env: { ...env, [own]: shared } };
}
