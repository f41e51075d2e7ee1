import protobuf from 'protobufjs/light.js';
import snappy from 'snappyjs';

/**
 * Prometheus remote write 1.0: a `prometheus.WriteRequest` protobuf message,
 * snappy-compressed (block format), POSTed with the headers below.
 *
 * Sending encodes by hand ({@link WriteRequestWriter}): the four message
 * types are tiny, a series' labels are encoded once and copied as bytes into
 * every request, and a sample costs a handful of byte writes instead of an
 * object and a reflective encode. The protobufjs schema below (the subset of
 * prometheus/prompb/{remote,types}.proto that 1.0 senders fill in) is the
 * reference that reads requests back, in tests and receivers.
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

/** The reference `prometheus.WriteRequest` type (protobufjs): reads requests back in tests and receivers. */
export const writeRequestType = protobuf.Root.fromJSON(descriptor).lookupType('prometheus.WriteRequest');

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

// Field tags (field number << 3 | wire type).
const tagLengthDelimited1 = 0x0a; // WriteRequest.timeseries, TimeSeries.labels, Label.name
const tagLengthDelimited2 = 0x12; // TimeSeries.samples, Label.value
const tagFixed64Field1 = 0x09; // Sample.value (double)
const tagVarintField2 = 0x10; // Sample.timestamp (int64)

/** Bytes of `value` as a varint; `value` is a non-negative integer below 2^64. */
function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    bytes += 1;
  }
  return bytes;
}

/** Bytes of an int64 timestamp as protobuf writes it (negative values take 10, as two's complement). */
function int64Bytes(value: number): number {
  return value < 0 ? 10 : varintBytes(value);
}

/**
 * The `labels` fields of one TimeSeries, encoded once per series and copied
 * into every request that carries it.
 */
export function encodeLabels(labels: readonly RemoteLabel[]): Uint8Array {
  const parts = labels.map(({ name, value }) => ({ name: Buffer.from(name, 'utf8'), value: Buffer.from(value, 'utf8') }));
  let total = 0;
  const sizes = parts.map(({ name, value }) => {
    const size = 1 + varintBytes(name.length) + name.length + 1 + varintBytes(value.length) + value.length;
    total += 1 + varintBytes(size) + size;
    return size;
  });
  const out = new Uint8Array(total);
  let at = 0;
  const varint = (value: number): void => {
    while (value >= 128) {
      out[at++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    out[at++] = value;
  };
  parts.forEach(({ name, value }, i) => {
    out[at++] = tagLengthDelimited1;
    varint(sizes[i] as number);
    out[at++] = tagLengthDelimited1;
    varint(name.length);
    out.set(name, at);
    at += name.length;
    out[at++] = tagLengthDelimited2;
    varint(value.length);
    out.set(value, at);
    at += value.length;
  });
  return out;
}

/**
 * Writes one WriteRequest into a buffer it reuses from request to request
 * (grown when a request needs more): `reset`, one `series` per TimeSeries,
 * then `finish` for the bytes.
 */
export class WriteRequestWriter {
  private bytes = new Uint8Array(1 << 16);
  private view = new DataView(this.bytes.buffer);
  private position = 0;

  reset(): void {
    this.position = 0;
  }

  /**
   * One TimeSeries: `labels` from {@link encodeLabels} and samples `from`
   * (inclusive) to `to` (exclusive) of `timestamps` (integer milliseconds)
   * and `values`, which must already be in time order.
   */
  series(labels: Uint8Array, timestamps: ArrayLike<number>, values: ArrayLike<number>, from: number, to: number): void {
    let size = labels.length;
    for (let i = from; i < to; i++) size += 2 + 10 + int64Bytes(timestamps[i] as number);
    this.reserve(1 + varintBytes(size) + size);
    const bytes = this.bytes;
    let at = this.position;
    bytes[at++] = tagLengthDelimited1;
    at = this.varint(at, size);
    bytes.set(labels, at);
    at += labels.length;
    for (let i = from; i < to; i++) {
      const timestamp = timestamps[i] as number;
      bytes[at++] = tagLengthDelimited2;
      bytes[at++] = 10 + int64Bytes(timestamp); // below 128: one byte
      bytes[at++] = tagFixed64Field1;
      this.view.setFloat64(at, values[i] as number, true);
      at += 8;
      bytes[at++] = tagVarintField2;
      at = timestamp < 0 ? this.negativeInt64(at, timestamp) : this.varint(at, timestamp);
    }
    this.position = at;
  }

  /** The encoded WriteRequest: a view of the writer's buffer, valid until the next `reset`. */
  finish(): Uint8Array {
    return this.bytes.subarray(0, this.position);
  }

  private reserve(more: number): void {
    const need = this.position + more;
    if (need <= this.bytes.length) return;
    let length = this.bytes.length * 2;
    while (length < need) length *= 2;
    const grown = new Uint8Array(length);
    grown.set(this.bytes.subarray(0, this.position));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  private varint(at: number, value: number): number {
    const bytes = this.bytes;
    // Timestamps need more than 32 bits: division, not bit shifts, above 2^31.
    while (value >= 0x80000000) {
      bytes[at++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    while (value >= 128) {
      bytes[at++] = (value & 127) | 128;
      value >>>= 7;
    }
    bytes[at++] = value;
    return at;
  }

  private negativeInt64(at: number, value: number): number {
    let bits = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < 9; i++) {
      this.bytes[at++] = Number(bits & 127n) | 128;
      bits >>= 7n;
    }
    this.bytes[at++] = Number(bits);
    return at;
  }
}

/** Snappy block compression of an encoded WriteRequest: the request body. */
export function compressWriteRequest(encoded: Uint8Array): Uint8Array {
  return snappy.compress(encoded);
}

/** The request body for `timeseries` (integer millisecond timestamps): encoded WriteRequest, snappy block-compressed. */
export function encodeWriteRequest(timeseries: readonly RemoteTimeSeries[]): Uint8Array {
  const writer = new WriteRequestWriter();
  for (const series of timeseries) {
    const timestamps = series.samples.map((s) => s.timestamp);
    const values = series.samples.map((s) => s.value);
    writer.series(encodeLabels(series.labels), timestamps, values, 0, series.samples.length);
  }
  return compressWriteRequest(writer.finish());
}

/** Reads a request body with the reference protobufjs schema (for tests and receivers). */
export function decodeWriteRequest(body: Uint8Array): RemoteTimeSeries[] {
  const message = writeRequestType.decode(snappy.uncompress(body));
  const object = writeRequestType.toObject(message, { longs: Number, defaults: true }) as { timeseries: RemoteTimeSeries[] };
  return object.timeseries;
}
