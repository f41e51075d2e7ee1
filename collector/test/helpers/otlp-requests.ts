import { otlpTypes } from '../../src/otlp-root.js';

/** Builds OTLP metric requests (as plain OTLP/JSON-shaped objects and encoded protobuf) for tests and benchmarks. */

export interface GaugeSeriesSpec {
  readonly agent: string;
  readonly name: string;
  /** One point per entry: its attributes and value. */
  readonly points: ReadonlyArray<{ readonly attributes: Readonly<Record<string, string>>; readonly value: number; readonly timeMillis: number }>;
}

export function gaugeRequestObject(spec: GaugeSeriesSpec): Record<string, unknown> {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.instance.id', value: { stringValue: spec.agent } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: spec.name,
                unit: '1',
                gauge: {
                  dataPoints: spec.points.map((p) => ({
                    timeUnixNano: String(BigInt(p.timeMillis) * 1_000_000n),
                    asDouble: p.value,
                    attributes: Object.entries(p.attributes).map(([key, value]) => ({ key, value: { stringValue: value } })),
                  })),
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

export function encodeMetricsRequest(object: Record<string, unknown>): Buffer {
  const message = otlpTypes.metricsRequest.fromObject(object);
  return Buffer.from(otlpTypes.metricsRequest.encode(message as unknown as Record<string, unknown>).finish());
}

export function decodeMetricsResponse(bytes: Uint8Array): { partialSuccess?: { rejectedDataPoints?: unknown; errorMessage?: string } } {
  return otlpTypes.metricsResponse.decode(bytes) as { partialSuccess?: { rejectedDataPoints?: unknown; errorMessage?: string } };
}
