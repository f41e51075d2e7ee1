/** The request bodies of bench/security/attack.ts: valid OTLP in both encodings, seeded mutations of them, deep nesting. */
import { seededRandom } from '../../analytics/src/forecast/stats.js';
import { otlpTypes } from '../../collector/src/otlp-root.js';

/** mulberry32: the same seed mutates the same bytes, so a failure can be replayed. */
let random = seededRandom(1);
/** Seeds the mutations, so the same seed mutates the same bytes. */
export function seedMutations(seed: number): void {
  random = seededRandom(seed);
}
const int = (n: number): number => Math.floor(random() * n);

export const nanos = (millis: number): string => String(BigInt(Math.round(millis)) * 1_000_000n);
export const resource = (agent: string): Record<string, unknown> => ({ attributes: [{ key: 'service.instance.id', value: { stringValue: agent } }, { key: 'host.name', value: { stringValue: 'h' } }] });
export function metricsObject(agent: string, o: { timeMillis?: number; labels?: Record<string, string>; name?: string } = {}): Record<string, unknown> {
  const attributes = Object.entries(o.labels ?? { cpu: '0', state: 'user' }).map(([key, value]) => ({ key, value: { stringValue: value } }));
  const point = { timeUnixNano: nanos(o.timeMillis ?? Date.now()), startTimeUnixNano: nanos(Date.now() - 60_000), asDouble: 1.5, attributes };
  return {
    resourceMetrics: [{
      resource: resource(agent),
      scopeMetrics: [{
        scope: { name: 'attack' },
        metrics: [
          { name: o.name ?? 'attack.gauge', unit: '1', gauge: { dataPoints: [point, { ...point, asInt: '7', asDouble: undefined }] } },
          { name: 'attack.sum', unit: '{req}', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [point] } },
          { name: 'attack.hist', unit: 's', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: point.timeUnixNano, count: '3', sum: 1.5, bucketCounts: ['1', '2'], explicitBounds: [0.5], attributes }] } },
        ],
      }],
    }],
  };
}
export const tracesObject = (agent: string): Record<string, unknown> => ({
  resourceSpans: [{ resource: resource(agent), scopeSpans: [{ spans: [{ traceId: Buffer.from('ab'.repeat(16), 'hex'), spanId: Buffer.from('cd'.repeat(8), 'hex'), name: 'op', kind: 2, startTimeUnixNano: nanos(Date.now() - 5), endTimeUnixNano: nanos(Date.now()), attributes: [{ key: 'k', value: { stringValue: 'v' } }] }] }] }],
});
export const logsObject = (agent: string): Record<string, unknown> => ({
  resourceLogs: [{ resource: resource(agent), scopeLogs: [{ logRecords: [{ timeUnixNano: nanos(Date.now()), severityNumber: 9, body: { stringValue: 'hello' }, attributes: [{ key: 'k', value: { intValue: '3' } }] }] }] }],
});
export type Signal = 'metrics' | 'traces' | 'logs';
const types = { metrics: otlpTypes.metricsRequest, traces: otlpTypes.tracesRequest, logs: otlpTypes.logsRequest } as const;
export const objects = { metrics: metricsObject, traces: tracesObject, logs: logsObject } as const;
export function protobuf(signal: Signal, object: Record<string, unknown>): Buffer {
  const type = types[signal] as unknown as { fromObject(o: unknown): unknown; encode(m: unknown): { finish(): Uint8Array } };
  return Buffer.from(type.encode(type.fromObject(object)).finish());
}
/** OTLP/JSON: ids as hex, 64-bit integers as strings. */
export function json(object: Record<string, unknown>): string {
  return JSON.stringify(object, (_key, value: unknown) => (value !== null && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' ? Buffer.from((value as { data: number[] }).data).toString('hex') : value));
}

// ---- mutations ----------------------------------------------------------------------------------------------------

export function mutateBytes(input: Buffer): Buffer {
  let b = Buffer.from(input);
  const steps = 1 + int(6);
  for (let s = 0; s < steps; s++) {
    const at = int(Math.max(1, b.length));
    switch (int(7)) {
      case 0: // flip bits of one byte
        b[at] = (b[at] ?? 0) ^ (1 + int(255));
        break;
      case 1: // truncate
        b = b.subarray(0, at);
        break;
      case 2: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(16))]);
        break;
      case 3: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256))), b.subarray(at)]);
        break;
      case 4: // an over-long varint (length fields, tags)
        b = Buffer.concat([b.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), b.subarray(at + 1)]);
        break;
      case 5: // duplicate a range (repeated fields, overlapping messages)
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + int(64)), b.subarray(at)]);
        break;
      default: // a byte set to an extreme
        b[at] = [0x00, 0x7f, 0x80, 0xff][int(4)] as number;
    }
  }
  return b;
}

export const jsonOddities: readonly unknown[] = [null, true, -1, 0, 1e308, -1e308, 1.5, '', 'x'.repeat(3000), '-1', '99999999999999999999999', 'NaN', [], {}, [[[]]], { a: 1 }, '\u0000', '\ud800'];
/** A structural mutation of the parsed JSON (type swaps, removed and unknown fields), or a textual one. */
export function mutateJson(object: Record<string, unknown>): string {
  if (random() < 0.3) {
    const text = Buffer.from(json(object));
    return mutateBytes(text).toString('latin1');
  }
  const copy = JSON.parse(json(object)) as unknown;
  const nodes: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach((v, i) => { nodes.push({ parent: node, key: i }); walk(v); });
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) { nodes.push({ parent: node as Record<string, unknown>, key: k }); walk(v); }
  };
  walk(copy);
  const steps = 1 + int(3);
  for (let s = 0; s < steps && nodes.length > 0; s++) {
    const { parent, key } = nodes[int(nodes.length)] as (typeof nodes)[number];
    const choice = int(3);
    if (choice === 0) (parent as Record<string | number, unknown>)[key] = jsonOddities[int(jsonOddities.length)];
    else if (choice === 1 && !Array.isArray(parent)) delete parent[key as string];
    else if (!Array.isArray(parent)) parent[`unknown${int(100)}`] = jsonOddities[int(jsonOddities.length)];
    else parent.push(jsonOddities[int(jsonOddities.length)]);
  }
  return JSON.stringify(copy);
}

/**
 * ExportLogsServiceRequest whose one log body is an AnyValue nested `depth` levels deep
 * (kvlist_value → KeyValueList → KeyValue → AnyValue …), built from the inside out
 * with the length prefixes only, so building it is linear in its size.
 */
export function nestedLogsBody(depth: number): Buffer {
  const prefixes: Buffer[] = [];
  let length = 3; // AnyValue { string_value: "x" }
  for (let d = 0; d < depth; d++) {
    const keyValue = Buffer.concat([Buffer.from([0x0a, 0x01, 0x6b, 0x12]), varint(length)]); // KeyValue { key: "k", value: … }
    const keyValueLength = keyValue.length + length;
    const list = Buffer.concat([Buffer.from([0x0a]), varint(keyValueLength)]); // KeyValueList { values: [ … ] }
    const listLength = list.length + keyValueLength;
    const value = Buffer.concat([Buffer.from([0x32]), varint(listLength)]); // AnyValue { kvlist_value: … }
    prefixes.push(keyValue, list, value);
    length = value.length + listLength;
  }
  for (const field of [0x2a, 0x12, 0x12, 0x0a]) {
    // LogRecord { body }, ScopeLogs { log_records }, ResourceLogs { scope_logs }, request { resource_logs }
    const prefix = Buffer.concat([Buffer.from([field]), varint(length)]);
    prefixes.push(prefix);
    length += prefix.length;
  }
  return Buffer.concat([...prefixes.reverse(), Buffer.from([0x0a, 0x01, 0x78])]);
}

export function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}
