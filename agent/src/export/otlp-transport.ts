import { parseRetryAfter, retryableStatuses, type SendResult } from './export-result.js';

/** The OTLP signals and their HTTP paths. */
export type Signal = 'metrics' | 'traces' | 'logs';
export const signalPaths: Readonly<Record<Signal, string>> = { metrics: '/v1/metrics', traces: '/v1/traces', logs: '/v1/logs' };

export interface OtlpTransportOptions {
  /** Base URL of the collector, e.g. `http://127.0.0.1:4318`. */
  readonly collectorUrl: string;
  /** Bearer token; omitted with `--insecure-no-auth`. */
  readonly token?: string | undefined;
  /** @defaultValue 10000 */
  readonly timeoutMillis?: number;
}

/** Longest reason text kept from a collector's error body. */
const maxReasonChars = 500;

/** Sends OTLP/HTTP protobuf bodies; knows nothing about queues or spools. */
export class OtlpTransport {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMillis: number;

  constructor(options: OtlpTransportOptions) {
    this.base = options.collectorUrl.replace(/\/+$/, '');
    this.headers = { 'content-type': 'application/x-protobuf' };
    if (options.token !== undefined && options.token !== '') this.headers.authorization = `Bearer ${options.token}`;
    this.timeoutMillis = options.timeoutMillis ?? 10_000;
  }

  async send(signal: Signal, body: Uint8Array): Promise<SendResult> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${signalPaths[signal]}`, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMillis),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      return { kind: 'retryable', reason: cause?.code ?? (error as Error).message };
    }
    if (response.ok) {
      await response.arrayBuffer().catch(() => undefined);
      return { kind: 'success' };
    }
    const reason = await readReason(response);
    if (retryableStatuses.has(response.status) || response.status >= 500) {
      const retryAfterMillis = parseRetryAfter(response.headers.get('retry-after'));
      return retryAfterMillis === undefined
        ? { kind: 'retryable', reason: `HTTP ${response.status}: ${reason}` }
        : { kind: 'retryable', reason: `HTTP ${response.status}: ${reason}`, retryAfterMillis };
    }
    return { kind: 'failure', status: response.status, reason };
  }
}

async function readReason(response: Response): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch {
    return response.statusText;
  }
  // An OTLP error body in protobuf is a google.rpc.Status; read its message rather than its bytes as text.
  if ((response.headers.get('content-type') ?? '').startsWith('application/x-protobuf')) {
    const message = statusMessage(bytes);
    if (message !== undefined && message.trim() !== '') return printableReason(message, response.statusText);
  }
  const text = new TextDecoder().decode(bytes);
  // Sloth's collector answers JSON errors ({code, message}); OTLP allows a protobuf Status too.
  try {
    const parsed = JSON.parse(text) as { message?: unknown; code?: unknown };
    if (typeof parsed.message === 'string') {
      return (typeof parsed.code === 'string' ? `${parsed.code}: ${parsed.message}` : parsed.message).slice(0, maxReasonChars);
    }
  } catch {
    // not JSON
  }
  return printableReason(text, response.statusText);
}

function printableReason(text: string, fallback: string): string {
  // eslint-disable-next-line no-control-regex
  const printable = text.replace(/[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/g, '').trim();
  return (printable === '' ? fallback : printable).slice(0, maxReasonChars);
}

/**
 * The `message` (field 2) of a protobuf google.rpc.Status, or undefined when the bytes are not one.
 * Only varint and length-delimited fields occur in a Status; anything else ends the read.
 */
export function statusMessage(bytes: Uint8Array): string | undefined {
  let offset = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 35 && offset < bytes.length; shift += 7) {
      const byte = bytes[offset++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    return undefined;
  };
  let message: string | undefined;
  while (offset < bytes.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const wireType = tag & 7;
    if (wireType === 0) {
      if (varint() === undefined) return undefined;
    } else if (wireType === 2) {
      const length = varint();
      if (length === undefined || offset + length > bytes.length) return undefined;
      if (tag >>> 3 === 2) message = new TextDecoder().decode(bytes.subarray(offset, offset + length));
      offset += length;
    } else {
      return undefined;
    }
  }
  return message;
}
