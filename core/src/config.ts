import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { ConfigError, SlothError, type ConfigProblem } from './errors.js';
import { readRegularFile } from './regular-file.js';
import { yamlProblemMessage, parseYamlQuietly } from './yaml-quiet.js';

/** The YAML parser, loaded when a config file is read (not by every command that only reads the environment). */
function yamlParser(): (text: string) => unknown {
  return (createRequire(import.meta.url)('yaml') as { parse: (text: string) => unknown }).parse;
}

/**
 * Configuration loading, the same for every role:
 * defaults, then the YAML file, then `SLOTH_*` environment variables, then
 * command-line flags, validated once against the role's schema. Every
 * problem is reported at once, naming the key, the value and its source.
 *
 * File layout: common keys at the top level, each role's keys in a section
 * named after the role:
 *
 * ```yaml
 * dataDir: /var/lib/sloth
 * redisUrl: redis://127.0.0.1:6379
 * collector:
 *   port: 4318
 *   tokens: [{ token: s3cret, agent: web-1 }]
 * ```
 *
 * Environment: `SLOTH_<KEY>` for common keys (and `REDIS_URL` for `redisUrl`)
 * and `SLOTH_<ROLE>_<KEY>` for role keys, in SCREAMING_SNAKE_CASE (`SLOTH_DATA_DIR`, `SLOTH_COLLECTOR_PORT`).
 * Values are parsed as YAML, so `SLOTH_COLLECTOR_PORT=4318` is a number and
 * `SLOTH_AGENT_LABELS='{role: web}'` is a map.
 */

/** Keys every role understands. */
export const commonConfigShape = {
  /** @defaultValue `./.sloth` */
  dataDir: z.string().min(1).default('./.sloth'),
  /** Redis to use; when absent, `sloth up` finds or starts one. */
  redisUrl: z.string().url().optional(),
  /** @defaultValue `sloth` */
  redisPrefix: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'use letters, digits, "_", ".", ":" or "-"').default('sloth'),
  /** @defaultValue `info` */
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
};

export const commonConfigSchema = z.object(commonConfigShape);
export type CommonConfig = z.infer<typeof commonConfigSchema>;

/** Sections a config file may hold. */
export const configSections = ['collector', 'agent', 'analytics', 'scheduler', 'alerts', 'up', 'report', 'grafana'] as const;
export type ConfigSection = (typeof configSections)[number];

export interface ConfigSources {
  /** Path to the YAML file; when absent, `sloth.yaml` in the working directory is used if it exists. */
  file?: string | undefined;
  /** Environment; defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Parsed flags (camelCase keys); `undefined` values are ignored. */
  flags?: Readonly<Record<string, unknown>>;
}

/** camelCase → SCREAMING_SNAKE_CASE */
export function envName(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The process environment. The one place Sloth reads `process.env`. */
export function processEnv(): Readonly<Record<string, string | undefined>> {
  return process.env;
}

/** A config file larger than this is refused by name (test/session-e-rules.md, R2). */
const maxConfigFileBytes = 128 * 1024 * 1024;

/** Reads and parses the config file, or returns `{}` if there is none. */
export function readConfigFile(file: string | undefined): { path: string | undefined; data: Record<string, unknown> } {
  const explicit = file !== undefined;
  const path = resolve(file ?? 'sloth.yaml');
  if (!existsSync(path)) {
    if (explicit) throw new SlothError('SLOTH_ERR_CONFIG_FILE', `config file ${path} does not exist`, { details: { path } });
    return { path: undefined, data: {} };
  }
  // A FIFO would block the start for ever, a directory fails with EISDIR: say what it is instead (checked on the
  // opened file, so it cannot be swapped between the check and the read). Read whole: past a quarter of V8's
  // longest string the read would fail naming nothing (test/session-e-rules.md, R2).
  const read = readRegularFile(path, { maxBytes: maxConfigFileBytes });
  if (!read.ok) {
    const hint = read.reason === 'not-regular' ? '; give a YAML file' : '';
    throw new SlothError('SLOTH_ERR_CONFIG_FILE', `config file ${path} ${read.problem}${hint}`, { details: { path } });
  }
  const text = read.bytes.toString('utf8');
  // Never the parser's own message: it quotes the offending line, and a config file's lines hold tokens.
  const parsed = parseYamlQuietly(text);
  if (!parsed.ok) {
    throw new SlothError('SLOTH_ERR_CONFIG_FILE', `config file ${path} is ${parsed.problems.map(yamlProblemMessage).join('; ')}`, { details: { path } });
  }
  const data = parsed.data;
  if (data === null || data === undefined) return { path, data: {} };
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new SlothError('SLOTH_ERR_CONFIG_FILE', `config file ${path} must hold a YAML mapping at the top level`);
  }
  return { path, data: data as Record<string, unknown> };
}

function parseEnvValue(text: string): unknown {
  try {
    const value: unknown = yamlParser()(text);
    return value === null ? text : value;
  } catch {
    return text;
  }
}

/**
 * Loads a role's configuration. `roleShape` holds the role's own keys; the
 * result also has the common keys. The returned object is frozen.
 */
export function loadConfig<Shape extends z.ZodRawShape>(
  role: ConfigSection,
  roleShape: Shape,
  sources: ConfigSources = {},
): Readonly<z.infer<z.ZodObject<typeof commonConfigShape & Shape>>> {
  const schema = z.strictObject({ ...commonConfigShape, ...roleShape });
  const roleKeys = new Set(Object.keys(roleShape));
  const commonKeys = new Set(Object.keys(commonConfigShape));
  const problems: ConfigProblem[] = [];
  const raw: Record<string, unknown> = {};
  const origin: Record<string, string> = {};

  const { path, data } = readConfigFile(sources.file);
  const fileLabel = `file ${path ?? ''}`.trim();
  for (const [key, value] of Object.entries(data)) {
    if ((configSections as readonly string[]).includes(key)) continue;
    if (commonKeys.has(key)) {
      raw[key] = value;
      origin[key] = fileLabel;
    } else {
      problems.push({ key, source: fileLabel, value, message: `unknown top-level key; expected one of ${[...commonKeys, ...configSections].join(', ')}` });
    }
  }
  const section = data[role];
  if (section !== undefined && section !== null) {
    if (typeof section !== 'object' || Array.isArray(section)) {
      problems.push({ key: role, source: fileLabel, value: section, message: 'must be a mapping' });
    } else {
      for (const [key, value] of Object.entries(section as Record<string, unknown>)) {
        raw[key] = value;
        origin[key] = fileLabel;
        if (!roleKeys.has(key) && !commonKeys.has(key)) {
          problems.push({ key: `${role}.${key}`, source: fileLabel, value, message: `unknown key; ${role} accepts ${[...roleKeys].join(', ') || 'no keys of its own'}` });
          delete raw[key];
        }
      }
    }
  }

  const env = sources.env ?? processEnv();
  for (const key of [...commonKeys, ...roleKeys]) {
    const names = commonKeys.has(key) ? [`SLOTH_${envName(key)}`, `SLOTH_${envName(role)}_${envName(key)}`] : [`SLOTH_${envName(role)}_${envName(key)}`];
    // The conventional REDIS_URL works too, below Sloth's own names.
    if (key === 'redisUrl') names.unshift('REDIS_URL');
    for (const name of names) {
      const text = env[name];
      if (text === undefined || text === '') continue;
      raw[key] = parseEnvValue(text);
      origin[key] = `env ${name}`;
    }
  }

  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (value === undefined) continue;
    if (!roleKeys.has(key) && !commonKeys.has(key)) continue;
    raw[key] = value;
    origin[key] = `flag --${key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()}`;
  }

  const result = schema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const top = String(issue.path[0] ?? '');
      const dotted = [role === 'up' || commonKeys.has(top) ? undefined : role, ...issue.path.map(String)].filter((p) => p !== undefined).join('.');
      problems.push({
        key: dotted || role,
        source: origin[top] ?? 'default',
        value: issue.path.reduce<unknown>((v, p) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined), raw),
        message: issue.message,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result.data as z.infer<z.ZodObject<typeof commonConfigShape & Shape>>);
}
