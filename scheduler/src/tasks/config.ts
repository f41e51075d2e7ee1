import { z } from 'zod';
import { placementStrategies } from '../placement/placer.js';

/** `scheduler.tasks` in the config file: placement of user tasks. */
export const tasksConfigSchema = z.strictObject({
  /** Collector whose query API lists the agents. @defaultValue `http://127.0.0.1:4318` */
  collectorUrl: z.url().default('http://127.0.0.1:4318'),
  /** Bearer token for the collector's query API (never logged). */
  collectorToken: z.string().min(1).optional(),
  /** `bin-pack` (fill agents) or `spread` (balance them); a task may override it. @defaultValue `bin-pack` */
  defaultStrategy: z.enum(placementStrategies).default('bin-pack'),
  /** Agents whose metrics are older than this are not placed on. @defaultValue 60 */
  maxMetricsAgeSeconds: z.number().positive().default(60),
  /** Tasks at once on one agent. @defaultValue 8 */
  maxTasksPerAgent: z.number().int().min(1).default(8),
  /** argv[0] values a `command` task may run; empty denies every command. */
  allowedCommands: z.array(z.string().min(1)).default([]),
  /** A task that fits nowhere is placed again after this long. @defaultValue 2 */
  waitRetrySeconds: z.number().positive().default(2),
  /** Tasks placed this recently count as load not yet in the metrics. @defaultValue 30 */
  metricsLagSeconds: z.number().min(0).default(30),
});

export type TasksConfig = z.infer<typeof tasksConfigSchema>;
