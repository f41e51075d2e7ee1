import protobuf from 'protobufjs/light.js';
import snappy from 'snappyjs';

/**
 * Prometheus remote write 1.0: a `prometheus.WriteRequest` protobuf message,
 * snappy-compressed (block format), POSTed with the headers below. The
 * message types are built by protobufjs from this descriptor (the subset of
 * prometheus/prompb/{remote,types}.proto that 1.0 senders fill in).
 */
const descriptor = {
  nested: {
    prometheus: {
      nested: {
        WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
const writeRequestType = root.lookupType('prometheus.WriteRequest');

export interface RemoteLabel {
  readonly name: string;
  readonly value: string;
}

export interface RemoteSample {
  readonly value: number;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
}

/** One series: labels sorted by name, `__name__` among them; samples in time order. */
export interface RemoteTimeSeries {
  readonly labels: readonly RemoteLabel[];
  readonly samples: readonly RemoteSample[];
}

/** The headers remote write 1.0 requires. */
export const remoteWriteHeaders: Readonly<Record<string, string>> = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
};

/** The request body for `timeseries`: encoded WriteRequest, snappy block-compressed. */
export function encodeWriteRequest(timeseries: readonly RemoteTimeSeries[]): Uint8Array {
  const bytes = writeRequestType.encode({ timeseries }).finish();
  return snappy.compress(bytes);
}

/** Reads a body made by {@link encodeWriteRequest} (for tests and receivers). */
export function decodeWriteRequest(body: Uint8Array): RemoteTimeSeries[] {
  const message = writeRequestType.decode(snappy.uncompress(body));
  const object = writeRequestType.toObject(message, { longs: Number, defaults: true }) as { timeseries: RemoteTimeSeries[] };
  return object.timeseries;
}
