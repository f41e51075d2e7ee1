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
  let text: string;
  try {
    text = await response.text();
  } catch {
    return response.statusText;
  }
  // Sloth's collector answers JSON errors ({code, message}); OTLP allows a protobuf Status too.
  try {
    const parsed = JSON.parse(text) as { message?: unknown; code?: unknown };
    if (typeof parsed.message === 'string') {
      return (typeof parsed.code === 'string' ? `${parsed.code}: ${parsed.message}` : parsed.message).slice(0, maxReasonChars);
    }
  } catch {
    // not JSON
  }
  // eslint-disable-next-line no-control-regex
  const printable = text.replace(/[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/g, '').trim();
  return (printable === '' ? response.statusText : printable).slice(0, maxReasonChars);
}
