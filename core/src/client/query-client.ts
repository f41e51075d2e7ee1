import type { z } from 'zod';
import {
  agentsResponseSchema,
  aggregateResponseSchema,
  apiErrorBodySchema,
  checkLatestResponse,
  logsResponseSchema,
  samplesResponseSchema,
  seriesResponseSchema,
  spansResponseSchema,
  type AgentInfo,
  type AggregateResponse,
  type LatestPoint,
  type LogRecord,
  type SamplesResponse,
  type SeriesInfo,
  type SpanRecord,
  type StepAggregation,
} from './query-schemas.js';

/** Why a query failed; `unauthorized` and `bad-request` will not change on retry. */
export type QueryFailureKind = 'unreachable' | 'timeout' | 'unauthorized' | 'not-found' | 'bad-request' | 'server' | 'invalid-response';

/** An expected remote failure, as a value (the caller decides: retry, exit code, message). */
export interface QueryFailure {
  readonly ok: false;
  readonly kind: QueryFailureKind;
  /** The server's `SLOTH_ERR_*` code when it sent one, else the client's own. */
  readonly code: string;
  /** What went wrong and what to do; never contains the token. */
  readonly message: string;
  readonly status?: number;
  readonly details: Readonly<Record<string, unknown>>;
  readonly retryable: boolean;
}

export type QueryResult<T> = { readonly ok: true; readonly value: T } | QueryFailure;

export interface QueryClientOptions {
  /** Base URL of the collector. @defaultValue `http://127.0.0.1:4318` */
  readonly baseUrl?: string;
  /** Bearer token (one of the collector's `--token`s). */
  readonly token?: string;
  /** Per-request timeout. @defaultValue 10000 */
  readonly timeoutMillis?: number;
  /**
   * Requests in flight at once; more wait their turn (each one's timeout starts when it is sent). A role
   * that queries for every rule or agent at once would otherwise open as many connections, past what the
   * collector allows one client address. @defaultValue 32
   */
  readonly maxInFlight?: number;
}

/** A counting semaphore: at most `size` holders; the others wait in order. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(); // the slot passes straight to the next in line
    else this.free += 1;
  }
}

/** A time the API accepts: milliseconds since the epoch, or text such as `now`, `-1h`, ISO 8601. */
export type QueryTime = number | string;

export interface SeriesFilter {
  readonly name?: string;
  readonly agent?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** 1–10000. @defaultValue 1000 (server side) */
  readonly limit?: number;
}

export interface SamplesQuery {
  readonly series: string;
  readonly from?: QueryTime;
  readonly to?: QueryTime;
  /** Bucket width in milliseconds (or text such as `5m`). */
  readonly step?: number | string;
  readonly agg?: StepAggregation;
}

export interface AggregateQuery {
  /** Metric name the aggregation runs over. */
  readonly name: string;
  readonly agg: 'sum' | 'avg' | 'min' | 'max' | 'count' | 'rate';
  /** Labels to group by (e.g. `agent`); none aggregates every series into one group. */
  readonly by?: readonly string[];
  readonly agent?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly from?: QueryTime;
  readonly to?: QueryTime;
  readonly step?: number | string;
}

export const defaultCollectorUrl = 'http://127.0.0.1:4318';

function timeText(value: QueryTime): string {
  return typeof value === 'number' ? String(Math.floor(value)) : value;
}

/**
 * Typed client of the collector's query API (`/api/v1/*`). Every answer is
 * checked against its schema; failures come back as {@link QueryFailure}
 * values carrying the server's `{ code, message, details }`.
 */
export class QueryClient {
  readonly baseUrl: URL;
  private readonly token: string | undefined;
  private readonly timeoutMillis: number;
  private readonly slots: Slots;

  constructor(options: QueryClientOptions = {}) {
    const text = options.baseUrl ?? defaultCollectorUrl;
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      // Not echoed when it may hold a password before an "@".
      throw new TypeError(`collector URL ${text.includes('@') ? '(not shown: it holds an "@")' : JSON.stringify(text)} is not a URL: use e.g. ${defaultCollectorUrl}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`collector URL ${parsed.protocol}//${parsed.host}/… must start with http:// or https://`);
    }
    // fetch refuses such a URL with an error that repeats it whole, password included, on every request.
    if (parsed.username !== '' || parsed.password !== '') {
      throw new TypeError(`collector URL ${parsed.origin} must not carry a user name or password (not shown); the collector takes a bearer token`);
    }
    this.baseUrl = parsed;
    this.token = options.token;
    this.timeoutMillis = options.timeoutMillis ?? 10_000;
    this.slots = new Slots(Math.max(1, options.maxInFlight ?? 32));
  }

  /** The collector's origin without credentials, for messages. */
  get origin(): string {
    return this.baseUrl.origin;
  }

  /** `GET /api/v1/agents`: every agent the collector knows. */
  async agents(): Promise<QueryResult<AgentInfo[]>> {
    const result = await this.get('/api/v1/agents', {}, agentsResponseSchema);
    return result.ok ? { ok: true, value: result.value.agents } : result;
  }

  /** `GET /api/v1/series`: series matching the filter, ordered by key. */
  async series(filter: SeriesFilter = {}): Promise<QueryResult<SeriesInfo[]>> {
    const query: Record<string, string | string[]> = {};
    if (filter.name !== undefined) query.name = filter.name;
    if (filter.agent !== undefined) query.agent = filter.agent;
    if (filter.labels !== undefined) query.label = Object.entries(filter.labels).map(([k, v]) => `${k}=${v}`);
    if (filter.limit !== undefined) query.limit = String(filter.limit);
    const result = await this.get('/api/v1/series', query, seriesResponseSchema);
    return result.ok ? { ok: true, value: result.value.series } : result;
  }

  /** `GET /api/v1/samples`: raw points or step buckets of one series (a 404 is `not-found`). */
  async samples(query: SamplesQuery): Promise<QueryResult<SamplesResponse>> {
    const params: Record<string, string> = { series: query.series };
    if (query.from !== undefined) params.from = timeText(query.from);
    if (query.to !== undefined) params.to = timeText(query.to);
    if (query.step !== undefined) params.step = String(query.step);
    if (query.agg !== undefined) params.agg = query.agg;
    return await this.get('/api/v1/samples', params, samplesResponseSchema);
  }

  /**
   * Every raw point of a series in `[from, to]`, following `truncated`
   * answers page by page (oldest first).
   */
  async allSamples(series: string, fromMillis: number, toMillis: number): Promise<QueryResult<SamplesResponse>> {
    let first: SamplesResponse | undefined;
    const points: SamplesResponse['points'] = [];
    let from = fromMillis;
    for (;;) {
      const page = await this.samples({ series, from, to: toMillis });
      if (!page.ok) return page;
      first ??= page.value;
      const fresh = page.value.points.filter((p) => points.length === 0 || p.t > (points[points.length - 1]?.t ?? -Infinity));
      points.push(...fresh);
      const last = page.value.points[page.value.points.length - 1];
      if (page.value.truncated !== true || last === undefined || fresh.length === 0) break;
      from = last.t;
    }
    return { ok: true, value: { ...first, fromMillis, toMillis, truncated: false, points } };
  }

  /** `GET /api/v1/latest`: the newest point of every series, optionally filtered. */
  async latest(filter: { name?: string; agent?: string } = {}): Promise<QueryResult<LatestPoint[]>> {
    const result = await this.request('/api/v1/latest', { ...filter }, checkLatestResponse);
    return result.ok ? { ok: true, value: result.value.points } : result;
  }

  /** `GET /api/v1/spans`, newest first. */
  async spans(filter: { agent?: string; name?: string; traceId?: string; since?: QueryTime; limit?: number } = {}): Promise<QueryResult<SpanRecord[]>> {
    const query: Record<string, string> = {};
    if (filter.agent !== undefined) query.agent = filter.agent;
    if (filter.name !== undefined) query.name = filter.name;
    if (filter.traceId !== undefined) query.traceId = filter.traceId;
    if (filter.since !== undefined) query.since = timeText(filter.since);
    if (filter.limit !== undefined) query.limit = String(filter.limit);
    const result = await this.get('/api/v1/spans', query, spansResponseSchema);
    return result.ok ? { ok: true, value: result.value.spans } : result;
  }

  /** `GET /api/v1/logs`, newest first. */
  async logs(filter: { agent?: string; severityMin?: number; contains?: string; since?: QueryTime; limit?: number } = {}): Promise<QueryResult<LogRecord[]>> {
    const query: Record<string, string> = {};
    if (filter.agent !== undefined) query.agent = filter.agent;
    if (filter.severityMin !== undefined) query.severityMin = String(filter.severityMin);
    if (filter.contains !== undefined) query.contains = filter.contains;
    if (filter.since !== undefined) query.since = timeText(filter.since);
    if (filter.limit !== undefined) query.limit = String(filter.limit);
    const result = await this.get('/api/v1/logs', query, logsResponseSchema);
    return result.ok ? { ok: true, value: result.value.logs } : result;
  }

  /**
   * `GET /api/v1/query`: one metric aggregated on the server across series,
   * grouped by labels. Collectors without the route answer `not-found`; callers
   * fall back to {@link QueryClient.samples} per series.
   */
  async aggregate(query: AggregateQuery): Promise<QueryResult<AggregateResponse>> {
    const params: Record<string, string | string[]> = { name: query.name, agg: query.agg };
    if (query.by !== undefined && query.by.length > 0) params.by = query.by.join(',');
    if (query.agent !== undefined) params.agent = query.agent;
    if (query.labels !== undefined) params.label = Object.entries(query.labels).map(([k, v]) => `${k}=${v}`);
    if (query.from !== undefined) params.from = timeText(query.from);
    if (query.to !== undefined) params.to = timeText(query.to);
    if (query.step !== undefined) params.step = String(query.step);
    return await this.get('/api/v1/query', params, aggregateResponseSchema);
  }

  private url(path: string, query: Record<string, string | string[]>): URL {
    const url = new URL(path, this.baseUrl);
    for (const [key, value] of Object.entries(query)) {
      for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(key, one);
    }
    return url;
  }

  private async get<S extends z.ZodType>(path: string, query: Record<string, string | string[]>, schema: S): Promise<QueryResult<z.infer<S>>> {
    return await this.request(path, query, (body) => {
      const parsed = schema.safeParse(body);
      if (parsed.success) return { ok: true, value: parsed.data };
      const issue = parsed.error.issues[0];
      return { ok: false, path: issue?.path.join('.') ?? '', message: issue?.message ?? '' };
    });
  }

  private async request<T>(path: string, query: Record<string, string | string[]>, check: (body: unknown) => { ok: true; value: T } | { ok: false; path: string; message: string }): Promise<QueryResult<T>> {
    await this.slots.acquire();
    try {
      return await this.send(path, query, check);
    } finally {
      this.slots.release();
    }
  }

  private async send<T>(path: string, query: Record<string, string | string[]>, check: (body: unknown) => { ok: true; value: T } | { ok: false; path: string; message: string }): Promise<QueryResult<T>> {
    const url = this.url(path, query);
    const where = `${this.origin}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json', ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }) },
        signal: AbortSignal.timeout(this.timeoutMillis),
      });
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        return failure('timeout', 'SLOTH_ERR_UNREACHABLE', `the collector at ${this.origin} did not answer ${path} within ${this.timeoutMillis} ms: is it overloaded? Raise the timeout or retry.`, true);
      }
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause?.code ?? cause?.message ?? (error as Error).message;
      return failure('unreachable', 'SLOTH_ERR_UNREACHABLE', `cannot reach the collector at ${this.origin} (${detail}). Is \`sloth collector\` (or \`sloth up\`) running? Point to it with --collector URL.`, true);
    }
    if (!response.ok) return await this.httpFailure(response, where);
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      return failure('invalid-response', 'SLOTH_ERR_INTERNAL', `the collector at ${where} answered HTTP ${response.status} with a body that is not JSON`, false, response.status);
    }
    const checked = check(body);
    if (!checked.ok) {
      const at = checked.message === '' ? '' : ` at "${checked.path}": ${checked.message}`;
      return failure('invalid-response', 'SLOTH_ERR_INTERNAL', `the collector at ${where} answered with an unexpected shape${at}; is it a different Sloth version?`, false, response.status);
    }
    return { ok: true, value: checked.value };
  }

  private async httpFailure(response: Response, where: string): Promise<QueryFailure> {
    const text = await response.text().catch(() => '');
    let serverBody: z.infer<typeof apiErrorBodySchema> | undefined;
    try {
      const parsed = apiErrorBodySchema.safeParse(JSON.parse(text));
      if (parsed.success) serverBody = parsed.data;
    } catch {
      serverBody = undefined;
    }
    const status = response.status;
    const said = serverBody === undefined ? text.slice(0, 300) : `${serverBody.code}: ${serverBody.message}`;
    const details = serverBody?.details ?? {};
    if (status === 401 || status === 403) {
      const what =
        this.token === undefined
          ? `the collector at ${this.origin} requires a token (HTTP ${status}): pass --token SECRET.`
          : `the collector at ${this.origin} rejected the token (HTTP ${status}): check --token.`;
      return failure('unauthorized', serverBody?.code ?? 'SLOTH_ERR_AUTH', what, false, status, details);
    }
    if (status === 404) return failure('not-found', serverBody?.code ?? 'SLOTH_ERR_NOT_FOUND', `the collector at ${where} answered 404: ${said}`, false, status, details);
    if (status >= 400 && status < 500 && status !== 429) {
      return failure('bad-request', serverBody?.code ?? 'SLOTH_ERR_BAD_REQUEST', `the collector at ${where} refused the request (HTTP ${status}): ${said}`, false, status, details);
    }
    return failure('server', serverBody?.code ?? 'SLOTH_ERR_INTERNAL', `the collector at ${where} failed (HTTP ${status}): ${said}`, true, status, details);
  }
}

function failure(
  kind: QueryFailureKind,
  code: string,
  message: string,
  retryable: boolean,
  status?: number,
  details: Readonly<Record<string, unknown>> = {},
): QueryFailure {
  return { ok: false, kind, code, message, retryable, details, ...(status === undefined ? {} : { status }) };
}
