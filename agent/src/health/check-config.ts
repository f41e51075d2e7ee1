import { z } from 'zod';

/** Fields every health check has. Durations in seconds, as in the config file. */
const common = {
  /** Unique name, used as the `check` attribute. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'use 1-64 letters, digits, "_", ".", ":" or "-"'),
  /** @defaultValue 30 */
  interval: z.number().positive('must be > 0 seconds').default(30),
  /** @defaultValue 5 */
  timeout: z.number().positive('must be > 0 seconds').default(5),
  /** Extra attempts within one run before it counts as failed. @defaultValue 0 */
  retries: z.number().int().min(0).max(10).default(0),
  /** Consecutive passing runs to become healthy. @defaultValue 1 */
  successThreshold: z.number().int().min(1).default(1),
  /** Consecutive failing runs to become unhealthy. @defaultValue 3 */
  failureThreshold: z.number().int().min(1).default(3),
};

const ratio = z.number().min(0).max(1);

export const httpCheckSchema = z.strictObject({
  ...common,
  type: z.literal('http'),
  target: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  /** Accepted statuses. @defaultValue any 2xx or 3xx */
  expectStatus: z.array(z.number().int().min(100).max(599)).optional(),
  /** A regular expression the body must match. */
  bodyMatch: z
    .string()
    .refine((s) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    }, 'is not a valid regular expression')
    .optional(),
});

export const tcpCheckSchema = z.strictObject({
  ...common,
  type: z.literal('tcp'),
  /** `host:port` */
  target: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, 'must be host:port'),
});

export const commandCheckSchema = z.strictObject({
  ...common,
  type: z.literal('command'),
  /** Program and arguments, run without a shell; exit status 0 passes. */
  argv: z.array(z.string().min(1), { error: 'must be an argv array such as ["/usr/bin/test", "-f", "/tmp/x"]; shell strings are not run' }).min(1),
});

export const diskCheckSchema = z.strictObject({
  ...common,
  type: z.literal('disk'),
  /** A path on the filesystem to watch. @defaultValue `/` */
  target: z.string().min(1).default('/'),
  /** Highest used share that still passes. @defaultValue 0.9 */
  maxUtilization: ratio.default(0.9),
});

export const memoryCheckSchema = z.strictObject({
  ...common,
  type: z.literal('memory'),
  /** @defaultValue 0.9 */
  maxUtilization: ratio.default(0.9),
});

export const cpuCheckSchema = z.strictObject({
  ...common,
  type: z.literal('cpu'),
  /** CPU busy share since the check's previous run. @defaultValue 0.9 */
  maxUtilization: ratio.default(0.9),
});

export const checkTypes = ['http', 'tcp', 'command', 'disk', 'memory', 'cpu'] as const;

export const healthCheckSchema = z.discriminatedUnion('type', [httpCheckSchema, tcpCheckSchema, commandCheckSchema, diskCheckSchema, memoryCheckSchema, cpuCheckSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? `unknown check type; expected one of ${checkTypes.join(', ')}` : undefined),
});

export const healthChecksSchema = z.array(healthCheckSchema).superRefine((checks, ctx) => {
  const seen = new Set<string>();
  checks.forEach((c, i) => {
    if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate check name ${JSON.stringify(c.name)}` });
    seen.add(c.name);
  });
});

export type HealthCheckConfig = z.infer<typeof healthCheckSchema>;
export type HealthCheckInput = z.input<typeof healthCheckSchema>;
