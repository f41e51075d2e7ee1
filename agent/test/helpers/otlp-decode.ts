import protobufRoot from '@opentelemetry/otlp-transformer-057/build/src/generated/root.js';

/**
 * Decodes OTLP protobuf requests in tests with the generated code shipped by
 * otlp-transformer 0.57 (the same decoder the collector uses), flattened to
 * what the assertions need.
 */
interface Decoder {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: Record<string, unknown>): unknown;
}

const root = protobufRoot as unknown as {
  opentelemetry: { proto: { collector: Record<string, Record<string, Record<string, Decoder>>> } };
};

const decoders = {
  metrics: root.opentelemetry.proto.collector.metrics!.v1!.ExportMetricsServiceRequest!,
  traces: root.opentelemetry.proto.collector.trace!.v1!.ExportTraceServiceRequest!,
  logs: root.opentelemetry.proto.collector.logs!.v1!.ExportLogsServiceRequest!,
};

type Json = Record<string, unknown>;
type Scalar = string | number | boolean;
type KeyValue = { key: string; value: { stringValue?: Scalar; intValue?: Scalar; doubleValue?: Scalar; boolValue?: Scalar } };

function attrs(list: KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const v = kv.value;
    out[kv.key] = String(v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue ?? '');
  }
  return out;
}

export interface DecodedPoint {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly resource: Record<string, string>;
  readonly value: number | undefined;
  readonly count: number | undefined;
  readonly timeUnixNano: string;
}

function decode(signal: keyof typeof decoders, body: Uint8Array): Json {
  const d = decoders[signal];
  return d.toObject(d.decode(body), { longs: String, defaults: false, arrays: true }) as Json;
}

export function decodeMetrics(body: Uint8Array): DecodedPoint[] {
  const request = decode('metrics', body) as { resourceMetrics?: Array<{ resource?: { attributes?: KeyValue[] }; scopeMetrics?: Array<{ metrics?: Json[] }> }> };
  const points: DecodedPoint[] = [];
  for (const rm of request.resourceMetrics ?? []) {
    const resource = attrs(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const data = (m.gauge ?? m.sum ?? m.histogram) as { dataPoints?: Json[] } | undefined;
        for (const p of data?.dataPoints ?? []) {
          const value = p.asDouble ?? p.asInt;
          points.push({
            name: m.name as string,
            attributes: attrs(p.attributes as KeyValue[] | undefined),
            resource,
            value: value === undefined ? undefined : Number(value),
            count: p.count === undefined ? undefined : Number(p.count),
            timeUnixNano: String(p.timeUnixNano),
          });
        }
      }
    }
  }
  return points;
}

export function decodeSpans(body: Uint8Array): Array<{ name: string; attributes: Record<string, string>; status: number }> {
  const request = decode('traces', body) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: Json[] }> }> };
  return (request.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({ name: s.name as string, attributes: attrs(s.attributes as KeyValue[]), status: Number((s.status as Json | undefined)?.code ?? 0) })),
    ),
  );
}

export function decodeLogs(body: Uint8Array): Array<{ body: string; severityText: string; attributes: Record<string, string> }> {
  const request = decode('logs', body) as { resourceLogs?: Array<{ scopeLogs?: Array<{ logRecords?: Json[] }> }> };
  return (request.resourceLogs ?? []).flatMap((rl) =>
    (rl.scopeLogs ?? []).flatMap((sl) =>
      (sl.logRecords ?? []).map((l) => ({
        body: String((l.body as { stringValue?: string } | undefined)?.stringValue ?? ''),
        severityText: String((l.severityText as string | undefined) ?? ''),
        attributes: attrs(l.attributes as KeyValue[]),
      })),
    ),
  );
}
