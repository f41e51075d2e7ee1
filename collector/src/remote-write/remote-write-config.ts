import { createHash } from 'node:crypto';
import { z } from 'zod';

/** One `remoteWrite` entry of the collector's configuration. */
export const remoteWriteSchema = z.object({
  /** The endpoint, e.g. `http://vm:8428/api/v1/write`, `http://prometheus:9090/api/v1/write`, Mimir's `/api/v1/push`. */
  url: z
    .string()
    .url('remoteWrite url must be an absolute http(s) URL, e.g. http://127.0.0.1:8428/api/v1/write')
    .refine((url) => /^https?:\/\//i.test(url), 'remoteWrite url must start with http:// or https://'),
  /** Names its cursor file and the `remote` metric label. @defaultValue host, port and path of the URL */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'remoteWrite name may hold only letters, digits, ".", "_" and "-"')
    .optional(),
  /** Extra request headers (Authorization, X-Scope-OrgID …); never logged. */
  headers: z.record(z.string(), z.string()).default({}),
  queue: z
    .object({
      maxSamplesPerSend: z.number().int().positive().default(10_000),
      maxBufferedSamples: z.number().int().positive().default(500_000),
      minBackoffMillis: z.number().int().positive().default(100),
      // Prometheus' own default: after an outage the remote is tried again within 5 s of its return.
      maxBackoffMillis: z.number().int().positive().default(5_000),
      timeoutMillis: z.number().int().positive().default(30_000),
    })
    .prefault({}),
});

export type RemoteWriteSettings = z.infer<typeof remoteWriteSchema>;

/**
 * `http://user:pw@vm:8428/api/v1/write` → `vm_8428_api_v1_write`: no credentials in file names or
 * labels. A path segment longer than 16 characters may be a token (some endpoints carry one in the
 * path), so it is named by the first 8 hex digits of its SHA-256, never shown; the usual paths
 * (`/api/v1/write`, `/api/v1/push`, `/api/prom/push`) keep their names.
 */
export function remoteName(url: string): string {
  const parsed = new URL(url);
  const path = parsed.pathname
    .split('/')
    .map((segment) => (segment.length > 16 ? `h${createHash('sha256').update(segment).digest('hex').slice(0, 8)}` : segment))
    .join('/');
  return `${parsed.hostname}_${parsed.port === '' ? (parsed.protocol === 'https:' ? '443' : '80') : parsed.port}${path}`.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/_+$/, '');
}
