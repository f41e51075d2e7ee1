import { otlpTypes } from '../../collector/src/otlp-root.js';

/** A fixed64 pattern that appears nowhere else in a request. */
export const sentinelNanos = 0x1f2e3d4c5b6a7988n;

/**
 * One agent's OTLP/HTTP protobuf metrics request of `pointsPerRequest` data
 * points (20 gauge/sum metrics × attribute sets of cpu, state and an integer
 * slot), and the byte offsets of every point's time_unix_nano so a sender can
 * patch fresh timestamps in place.
 */
export function buildTemplate(agent: number, pointsPerRequest: number): { body: Buffer; offsets: number[] } {
  const metricsCount = 20;
  const perMetric = Math.ceil(pointsPerRequest / metricsCount);
  const metrics: Array<Record<string, unknown>> = [];
  let made = 0;
  for (let m = 0; m < metricsCount && made < pointsPerRequest; m++) {
    const dataPoints: Array<Record<string, unknown>> = [];
    for (let i = 0; i < perMetric && made < pointsPerRequest; i++, made++) {
      dataPoints.push({
        timeUnixNano: sentinelNanos.toString(),
        startTimeUnixNano: '1700000000000000000',
        asDouble: Math.random() * 100,
        attributes: [
          { key: 'cpu', value: { stringValue: String(i % 16) } },
          { key: 'state', value: { stringValue: ['user', 'system', 'idle', 'iowait'][i % 4] } },
          { key: 'slot', value: { intValue: String(i) } },
        ],
      });
    }
    const name = `bench.metric.${m}`;
    metrics.push(m % 2 === 0 ? { name, unit: '1', gauge: { dataPoints } } : { name, unit: '{request}', sum: { dataPoints, isMonotonic: true, aggregationTemporality: 2 } });
  }
  const object = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.instance.id', value: { stringValue: `bench-agent-${agent}` } }, { key: 'service.name', value: { stringValue: 'bench' } }] },
        scopeMetrics: [{ scope: { name: 'bench' }, metrics }],
      },
    ],
  };
  const body = Buffer.from(otlpTypes.metricsRequest.encode(otlpTypes.metricsRequest.fromObject(object) as unknown as Record<string, unknown>).finish());
  const pattern = Buffer.alloc(8);
  pattern.writeBigUInt64LE(sentinelNanos);
  const offsets: number[] = [];
  for (let at = body.indexOf(pattern); at >= 0; at = body.indexOf(pattern, at + 8)) offsets.push(at);
  if (offsets.length !== pointsPerRequest) throw new Error(`expected ${pointsPerRequest} timestamps in the template, found ${offsets.length}`);
  return { body, offsets };
}

/** Digits of a millisecond timestamp in the text template: fixed width, so a sender patches it in place. */
const textTimestampDigits = 13;

/**
 * The same points as `buildTemplate(agent, pointsPerRequest)` in the
 * Prometheus text exposition format (`/api/v1/import/prometheus`): one line
 * per point with the series Sloth makes of it (the point's attributes plus
 * `agent`), and the byte offsets of every line's 13-digit millisecond
 * timestamp so a sender can patch fresh timestamps in place.
 */
export function buildTextTemplate(agent: number, pointsPerRequest: number): { body: Buffer; offsets: number[] } {
  const metricsCount = 20;
  const perMetric = Math.ceil(pointsPerRequest / metricsCount);
  const placeholder = '9'.repeat(textTimestampDigits);
  const lines: string[] = [];
  let made = 0;
  for (let m = 0; m < metricsCount && made < pointsPerRequest; m++) {
    const name = m % 2 === 0 ? `bench_metric_${m}` : `bench_metric_${m}_total`;
    for (let i = 0; i < perMetric && made < pointsPerRequest; i++, made++) {
      const state = ['user', 'system', 'idle', 'iowait'][i % 4] as string;
      lines.push(`${name}{agent="bench-agent-${agent}",cpu="${i % 16}",slot="${i}",state="${state}"} ${(Math.random() * 100).toFixed(6)} ${placeholder}\n`);
    }
  }
  const body = Buffer.from(lines.join(''), 'utf8');
  const offsets: number[] = [];
  for (let at = body.indexOf(` ${placeholder}\n`); at >= 0; at = body.indexOf(` ${placeholder}\n`, at + textTimestampDigits)) offsets.push(at + 1);
  if (offsets.length !== pointsPerRequest) throw new Error(`expected ${pointsPerRequest} timestamps in the text template, found ${offsets.length}`);
  return { body, offsets };
}

/** Writes `millis` as the 13 ASCII digits at each offset of a text template. */
export function patchTextTimestamps(body: Buffer, offsets: readonly number[], millis: number): void {
  const digits = String(millis);
  if (digits.length !== textTimestampDigits) throw new RangeError(`timestamp ${millis} ms does not have ${textTimestampDigits} digits`);
  for (const offset of offsets) body.write(digits, offset, 'latin1');
}
