import { gunzip, inflate } from 'node:zlib';
import { promisify } from 'node:util';
import protobuf from 'protobufjs/minimal.js';
import { HttpError } from './http-error.js';
import { otlpTypes, type LogsRequestMessage, type MetricsRequestMessage, type SubMessageType, type TracesRequestMessage } from './otlp-root.js';

/** The three OTLP signals. */
export type Signal = 'metrics' | 'traces' | 'logs';
export type BodyFormat = 'protobuf' | 'json';

export type DecodedRequest =
  | { readonly signal: 'metrics'; readonly message: MetricsRequestMessage }
  | { readonly signal: 'traces'; readonly message: TracesRequestMessage }
  | { readonly signal: 'logs'; readonly message: LogsRequestMessage };

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/** The body format for a Content-Type header, or undefined when it is not OTLP. */
export function formatOf(contentType: string | undefined): BodyFormat | undefined {
  if (contentType === undefined) return undefined;
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

/** Normalises Content-Encoding; throws 415 for encodings the collector does not speak. */
export function encodingOf(header: string | undefined): 'identity' | 'gzip' | 'deflate' {
  const value = (header ?? '').trim().toLowerCase();
  if (value === '' || value === 'identity') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate') return 'deflate';
  throw new HttpError(415, 'SLOTH_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${JSON.stringify(header)} is not supported; use gzip or identity`);
}

/**
 * Inflates a compressed body. zlib stops as soon as the output would pass
 * `maxBytes` (maxOutputLength), so a gzip bomb costs at most `maxBytes` of
 * memory and is answered with 413. Runs on the libuv thread pool.
 */
export async function decompress(body: Buffer, encoding: 'identity' | 'gzip' | 'deflate', maxBytes: number): Promise<Buffer> {
  if (encoding === 'identity') {
    if (body.length > maxBytes) throw tooLarge(maxBytes);
    return body;
  }
  try {
    return encoding === 'gzip' ? await gunzipAsync(body, { maxOutputLength: maxBytes }) : await inflateAsync(body, { maxOutputLength: maxBytes });
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge(maxBytes);
    throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `body is not valid ${encoding} data: ${err.message}`);
  }
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'SLOTH_ERR_PAYLOAD_TOO_LARGE', `decompressed body is larger than the limit of ${maxBytes} bytes`, { maxDecompressedBytes: maxBytes });
}

const idKeys = new Set(['traceId', 'spanId', 'parentSpanId']);
const hexPattern = /^(?:[0-9a-fA-F]{2})*$/;
const timeKeys = new Set(['timeUnixNano', 'startTimeUnixNano', 'endTimeUnixNano', 'observedTimeUnixNano']);
const decimalInteger = /^-?[0-9]+$/;
const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** An int64 as OTLP/JSON may write it (a decimal string or an integral number in range), as a BigInt; undefined when it is not one. */
function jsonInt64(value: unknown): bigint | undefined {
  let integer: bigint;
  if (typeof value === 'string' && decimalInteger.test(value)) integer = BigInt(value);
  else if (typeof value === 'number' && Number.isInteger(value)) integer = BigInt(value);
  else return undefined;
  return integer >= int64Min && integer <= int64Max ? integer : undefined;
}

/**
 * Adapts a parsed OTLP/JSON body for the generated code, in place:
 * - trace and span ids are hex in OTLP/JSON, where protobuf JSON would use base64;
 * - numbers the generated code would turn into garbage become values the normaliser rejects per
 *   point, or are read exactly: an `asInt` that is not an int64 (`"abc"`, out of range, a fraction)
 *   and an `asDouble` that is not a number (`true`, `{}`) become `asDouble: "NaN"` (invalid_value);
 *   a time written as a number in a string (`"1.5e18"`) is read as that number, and one that is no
 *   number at all is dropped (a missing time: invalid_timestamp, or the receipt time of a log record).
 * Attribute values are left alone: they are labels, stored as the text they came as.
 */
function adaptJson(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) adaptJson(item);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const field = record[key];
    if (idKeys.has(key) && typeof field === 'string') {
      if (hexPattern.test(field)) record[key] = Buffer.from(field, 'hex');
    } else if (timeKeys.has(key)) {
      if (field !== null && jsonInt64(field) === undefined) adaptTime(record, key, field);
    } else if (key === 'asInt') {
      if (field !== null && jsonInt64(field) === undefined) {
        delete record.asInt;
        record.asDouble = 'NaN';
      }
    } else if (key === 'asDouble') {
      if (field !== null && typeof field !== 'number' && typeof field !== 'string') record.asDouble = 'NaN';
    } else if (typeof field === 'object' && field !== null && key !== 'attributes') {
      adaptJson(field);
    }
  }
}

function adaptTime(record: Record<string, unknown>, key: string, field: unknown): void {
  const number = typeof field === 'string' && field.trim() !== '' ? Number(field) : Number.NaN;
  if (Number.isInteger(number) && number >= 0) record[key] = number;
  else delete record[key];
}

const twoTo32 = 4294967296;

/**
 * The protobufjs reader the generated OTLP code decodes with, tuned for the
 * hot path of metrics ingestion:
 * - it reads a plain Uint8Array, not a Buffer, so the many short strings of
 *   attribute keys and values are decoded in JS instead of crossing into C++
 *   once each (measured: 2.2× the points per second of `bench/ingest/decode.ts`);
 * - a string is decoded straight from the request bytes, without first
 *   making a Uint8Array view of it (five fewer objects per typical point);
 * - fixed64 and sfixed64 (timestamps, integer values, counts) come back as
 *   numbers instead of Long objects, two fewer allocations per point. Above
 *   2^53 a number is off by up to 256 ns, which `nanosToMillis` allows for;
 * - varint int64s (integer attributes) come back as numbers when they are
 *   exact as numbers (0 to 2^53 - 1, nearly all of them), one Long fewer per
 *   attribute; negative and larger ones still come back as Longs.
 */
class OtlpReader extends protobuf.Reader {
  static of(bytes: Uint8Array): OtlpReader {
    return new OtlpReader(bytes instanceof Buffer ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes);
  }
}

function readFixed64Words(reader: protobuf.Reader): [low: number, high: number] {
  const at = reader.pos;
  if (at + 8 > reader.len) throw new RangeError(`index out of range: ${at} + 8 > ${reader.len}`);
  const b = reader.buf;
  const low = ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
  const high = (b[at + 4] as number) | ((b[at + 5] as number) << 8) | ((b[at + 6] as number) << 16) | ((b[at + 7] as number) << 24);
  reader.pos = at + 8;
  return [low, high];
}

/** protobufjs' own int64 reader (a Long for every value), for the values a number cannot hold exactly. */
function longInt64(reader: protobuf.Reader): ReturnType<protobuf.Reader['int64']> {
  return protobuf.Reader.prototype.int64.call(reader);
}

Object.assign(OtlpReader.prototype, {
  int64(this: protobuf.Reader): number | ReturnType<protobuf.Reader['int64']> {
    const start = this.pos;
    let value = 0;
    let scale = 1;
    // Up to 8 groups of 7 bits (2^56) are summed exactly; anything at or past 2^53, and every negative
    // number (ten bytes in two's complement), goes back to the Long reader from the first byte.
    for (let i = 0; i < 8 && this.pos < this.len; i++) {
      const byte = this.buf[this.pos++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (value <= Number.MAX_SAFE_INTEGER) return value;
        break;
      }
      scale *= 128;
    }
    this.pos = start;
    return longInt64(this);
  },
  string(this: protobuf.Reader): string {
    const length = this.uint32();
    const start = this.pos;
    if (start + length > this.len) throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
    this.pos = start + length;
    return protobuf.util.utf8.read(this.buf, start, start + length);
  },
  fixed64(this: protobuf.Reader): number {
    const [low, high] = readFixed64Words(this);
    return (high >>> 0) * twoTo32 + low;
  },
  sfixed64(this: protobuf.Reader): number {
    const [low, high] = readFixed64Words(this);
    return high * twoTo32 + low;
  },
});

/**
 * One sub-message of a request (`buf[start, end)`, without its tag and length) decoded by the generated code with the ingest reader.
 * The reader ends at `end`: a field inside that claims to run past it throws, as it does when the whole request is decoded
 * (which reads on past the sub-message and meets the damage), instead of quietly reading the bytes that follow.
 */
export function otlpSubMessage<T>(type: SubMessageType<T>, buf: Uint8Array, start: number, end: number): T {
  const reader = new OtlpReader(buf);
  reader.pos = start;
  reader.len = end;
  return type.decode(reader, end - start);
}

const types = {
  metrics: otlpTypes.metricsRequest,
  traces: otlpTypes.tracesRequest,
  logs: otlpTypes.logsRequest,
} as const;

/** Decodes an OTLP request body; malformed bodies throw a 400 naming what was wrong. */
export function decodeRequest(signal: Signal, format: BodyFormat, bytes: Uint8Array): DecodedRequest {
  const type = types[signal];
  let message: unknown;
  if (format === 'protobuf') {
    try {
      message = type.decode(OtlpReader.of(bytes));
    } catch (error) {
      throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `malformed OTLP protobuf ${signal} request: ${(error as Error).message}`);
    }
  } else {
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    } catch (error) {
      throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `malformed OTLP JSON ${signal} request: ${(error as Error).message}`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `OTLP JSON ${signal} request must be an object`);
    }
    adaptJson(json);
    try {
      message = type.fromObject(json as Record<string, unknown>);
    } catch (error) {
      throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', `invalid OTLP JSON ${signal} request: ${(error as Error).message}`);
    }
  }
  return { signal, message } as DecodedRequest;
}
