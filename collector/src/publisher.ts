import { Redis } from 'ioredis';
import { encodeSampleMessage, redactUrl, type Logger } from '@sloth/core';
import type { MetricPoint } from './records.js';

/**
 * Publishes accepted samples (gauge and sum values; histograms, summaries
 * and exponential histograms are not published) to the `sloth:samples`
 * stream. One Lua call XADDs a whole chunk, capped with MAXLEN ~, which costs
 * far less than one command per sample. Redis being slow or down never
 * blocks ingestion: samples wait in a bounded buffer, the oldest are dropped
 * (and counted) when it is full, and the client reconnects in the background.
 */

// ARGV: maxlen, the four field names, then (series, agent, timestamp, value) per sample.
const xaddChunk = `
local n = 0
local fs, fa, ft, fv = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
for i = 6, #ARGV, 4 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', fs, ARGV[i], fa, ARGV[i+1], ft, ARGV[i+2], fv, ARGV[i+3])
  n = n + 1
end
return n
`;

/**
 * The stream entry layout comes from core's encodeSampleMessage: field names
 * at even positions, values at odd ones. The names are sent once per chunk
 * and only the values per sample, which halves the arguments to encode.
 */
const layout = encodeSampleMessage({ seriesId: 'series', agentId: 'agent', timestampMillis: 1, value: 2 });
const fieldNames = [layout[0], layout[2], layout[4], layout[6]] as string[];
if (layout.length !== 8 || layout[1] !== 'series' || layout[3] !== 'agent' || layout[5] !== '1' || layout[7] !== '2') {
  throw new Error('encodeSampleMessage changed its layout; update the collector publisher');
}

const samplesPerChunk = 2_000;
const fieldsPerSample = 4;

interface ChunkRedis extends Redis {
  slothXaddChunk(key: string, ...args: string[]): Promise<number>;
}

export interface SamplePublisherOptions {
  readonly redisUrl: string;
  readonly streamKey: string;
  readonly maxLength: number;
  readonly bufferSamples: number;
  readonly logger: Logger;
  readonly onDropped: (count: number) => void;
  readonly onPublished: (count: number) => void;
}

export class SamplePublisher {
  private readonly options: SamplePublisherOptions;
  private readonly redis: ChunkRedis;
  /** Flat value lists (series, agent, timestamp, value per sample), one array per chunk, oldest first. */
  private chunks: string[][] = [];
  private buffered = 0;
  private inFlight = 0;
  private stopped = false;
  private warnedDown = false;

  constructor(options: SamplePublisherOptions) {
    this.options = options;
    this.redis = new Redis(options.redisUrl, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(100 * times, 2_000),
      connectionName: 'sloth-collector-publisher',
    }) as ChunkRedis;
    this.redis.defineCommand('slothXaddChunk', { numberOfKeys: 1, lua: xaddChunk });
    this.redis.on('error', (error: Error) => {
      if (!this.warnedDown) options.logger.warn({ err: error.message, redis: redactUrl(options.redisUrl) }, 'samples stream: Redis unreachable; buffering samples');
      this.warnedDown = true;
    });
    this.redis.on('ready', () => {
      if (this.warnedDown) options.logger.info('samples stream: Redis is back');
      this.warnedDown = false;
      this.pump();
    });
  }

  async start(): Promise<void> {
    try {
      await this.redis.connect();
    } catch (error) {
      // Not fatal: ingestion goes on and the client keeps retrying.
      this.options.logger.warn({ err: (error as Error).message }, 'samples stream: Redis not reachable at start; will retry');
    }
  }

  /** Samples buffered and not yet acknowledged by Redis. */
  get pending(): number {
    return this.buffered;
  }

  publish(points: readonly MetricPoint[]): void {
    if (this.stopped) return;
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || chunk.length >= samplesPerChunk * fieldsPerSample) {
      chunk = [];
      this.chunks.push(chunk);
    }
    let added = 0;
    // Points of one request usually share a timestamp: format it once.
    let lastMillis = Number.NaN;
    let lastMillisText = '';
    for (const point of points) {
      if (point.value === undefined) continue;
      if (point.timestampMillis !== lastMillis) {
        lastMillis = point.timestampMillis;
        lastMillisText = String(lastMillis);
      }
      chunk.push(point.seriesKey, point.agentId, lastMillisText, String(point.value));
      added += 1;
      if (chunk.length >= samplesPerChunk * fieldsPerSample) {
        chunk = [];
        this.chunks.push(chunk);
      }
    }
    this.buffered += added;
    this.trim();
    this.pump();
  }

  private trim(): void {
    let dropped = 0;
    while (this.buffered > this.options.bufferSamples && this.chunks.length > 0) {
      const oldest = this.chunks.shift() as string[];
      const samples = oldest.length / fieldsPerSample;
      this.buffered -= samples;
      dropped += samples;
    }
    if (dropped > 0) this.options.onDropped(dropped);
  }

  private pump(): void {
    while (!this.stopped && this.redis.status === 'ready' && this.inFlight < 2) {
      const chunk = this.chunks.shift();
      if (chunk === undefined) return;
      if (chunk.length === 0) continue;
      this.inFlight += 1;
      const samples = chunk.length / fieldsPerSample;
      this.redis.slothXaddChunk(this.options.streamKey, String(this.options.maxLength), ...fieldNames, ...chunk).then(
        () => {
          this.inFlight -= 1;
          this.buffered -= samples;
          this.options.onPublished(samples);
          this.pump();
        },
        (error: Error) => {
          this.inFlight -= 1;
          // Put it back; the next 'ready' pumps again. Trim keeps the buffer bounded.
          this.chunks.unshift(chunk);
          if (!this.warnedDown) this.options.logger.warn({ err: error.message }, 'samples stream: XADD failed; will retry');
          this.warnedDown = true;
          this.trim();
          if (this.redis.status === 'ready') setTimeout(() => this.pump(), 500).unref();
        },
      );
    }
  }

  /** Waits up to `timeoutMillis` for the buffer to drain, then disconnects. */
  async shutdown(timeoutMillis = 2_000): Promise<void> {
    const deadline = Date.now() + timeoutMillis;
    while ((this.buffered > 0 || this.inFlight > 0) && this.redis.status === 'ready' && Date.now() < deadline) {
      this.pump();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.stopped = true;
    if (this.buffered > 0) this.options.onDropped(this.buffered);
    this.redis.disconnect();
  }
}
