/** GETs against Sloth's own HTTP APIs (scheduler, alerts) where a failure is an expected outcome: the section then says why. */

export interface ApiEndpoint {
  readonly url: string;
  readonly token?: string;
  /** @defaultValue 10000 */
  readonly timeoutMillis?: number;
}

/** How a source names itself in reasons: `the scheduler`, and the flags that fix it. */
export interface ApiNames {
  readonly service: string;
  readonly urlFlag: string;
  readonly tokenFlag: string;
}

export type JsonAnswer = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly reason: string };

/** The base URL's origin, or a reason naming the flag when it is not a URL. Never returns credentials. */
export function originOf(endpoint: ApiEndpoint, names: ApiNames): { ok: true; origin: string } | { ok: false; reason: string } {
  try {
    return { ok: true, origin: new URL(endpoint.url).origin };
  } catch {
    return { ok: false, reason: `${names.urlFlag} ${JSON.stringify(endpoint.url)} is not a URL` };
  }
}

/**
 * `GET <base><path>` with the bearer token. Every failure becomes a reason
 * naming the service's origin (no path, user info or token) and what went wrong.
 */
export async function getJson(endpoint: ApiEndpoint, path: string, names: ApiNames): Promise<JsonAnswer> {
  const origin = originOf(endpoint, names);
  if (!origin.ok) return origin;
  const parsed = new URL(endpoint.url);
  if (parsed.username !== '' || parsed.password !== '') return { ok: false, reason: `${names.urlFlag} carries credentials in the URL: give the token with ${names.tokenFlag} instead` };
  let response: Response;
  try {
    response = await fetch(new URL(path, endpoint.url), {
      headers: { accept: 'application/json', ...(endpoint.token === undefined ? {} : { authorization: `Bearer ${endpoint.token}` }) },
      signal: AbortSignal.timeout(endpoint.timeoutMillis ?? 10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${endpoint.timeoutMillis ?? 10_000} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
    return { ok: false, reason: `${names.service} at ${origin.origin} did not answer (${why})` };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return { ok: false, reason: `${names.service} at ${origin.origin} answered HTTP ${response.status}${response.status === 401 || response.status === 403 ? ` (check ${names.tokenFlag})` : ''}` };
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (body === undefined) return { ok: false, reason: `${names.service} at ${origin.origin} answered with a body that is not JSON` };
  return { ok: true, body };
}

export const text = (value: unknown): string => (typeof value === 'string' ? value : '');
export const finiteOrNull = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
