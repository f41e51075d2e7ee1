import { minScoreForFalseRate, rarestRate } from './calibration.js';
import type { AnomalyTrigger, PlaybookMetadata, PlaybookParamSpec, PlaybookParamType, PlaybookTrigger } from './types.js';

const knownKeys = new Set(['name', 'description', 'version', 'triggers', 'params', 'requires_approval', 'timeout', 'run']);
const paramTypes: readonly PlaybookParamType[] = ['string', 'number', 'integer', 'boolean', 'table'];
const maxTimeoutSeconds = 3600;
const anomalyTriggerKeys = ['metric', 'min_score', 'max_false_per_day', 'agent', 'direction', 'min_duration'];

export interface MetadataProblem {
  severity: 'error' | 'warning';
  message: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFunctionMarker(value: unknown): boolean {
  return isRecord(value) && value.$function === true;
}

/** wasmoon turns an empty Lua table into {}: accept it where a list is expected. */
function asList(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (isRecord(value) && Object.keys(value).length === 0) return [];
  return undefined;
}

/** Checks a playbook table (as described by the sandbox); returns metadata when there is no error, and every problem found. */
export function validateMetadata(table: unknown): { metadata?: PlaybookMetadata; problems: MetadataProblem[] } {
  const problems: MetadataProblem[] = [];
  const error = (message: string): void => {
    problems.push({ severity: 'error', message });
  };
  if (!isRecord(table)) return { problems: [{ severity: 'error', message: 'the playbook must return a table' }] };

  for (const key of Object.keys(table)) {
    if (!knownKeys.has(key)) error(`unknown metadata key '${key}' (known: ${[...knownKeys].join(', ')})`);
  }
  const name = table.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    error(`'name' must be a string of letters, digits, '.', '_' or '-' (got ${JSON.stringify(name ?? null)})`);
  }
  const description = table.description;
  if (description === undefined) problems.push({ severity: 'warning', message: "'description' is missing" });
  else if (typeof description !== 'string') error("'description' must be a string");
  const version = table.version;
  if (version !== undefined && typeof version !== 'string' && typeof version !== 'number') error("'version' must be a string or number");
  if (!isFunctionMarker(table.run)) error("'run' must be a function run(ctx)");
  const requiresApproval = table.requires_approval;
  if (requiresApproval !== undefined && typeof requiresApproval !== 'boolean') error("'requires_approval' must be true or false");
  const timeout = table.timeout;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0) || timeout > maxTimeoutSeconds)) {
    error(`'timeout' must be a number of seconds in (0, ${maxTimeoutSeconds}]`);
  }

  const triggers: PlaybookTrigger[] = [];
  const rawTriggers = table.triggers === undefined ? [] : asList(table.triggers);
  if (rawTriggers === undefined) error("'triggers' must be a list of trigger tables");
  else rawTriggers.forEach((raw, i) => {
    const trigger = validateTrigger(raw, `triggers[${i + 1}]`, typeof name === 'string' ? name : '?', error);
    if (trigger !== undefined) triggers.push(trigger);
  });

  const params: Record<string, PlaybookParamSpec> = {};
  const rawParams = table.params ?? {};
  if (!isRecord(rawParams)) error("'params' must be a table of name = { type = ..., required = ..., default = ..., description = ... }");
  else {
    for (const [param, spec] of Object.entries(rawParams)) {
      const checked = validateParamSpec(param, spec, error);
      if (checked !== undefined) params[param] = checked;
    }
  }

  if (problems.some((p) => p.severity === 'error')) return { problems };
  const metadata: PlaybookMetadata = {
    name: name as string,
    description: typeof description === 'string' ? description : '',
    version: typeof version === 'string' || typeof version === 'number' ? String(version) : '1',
    triggers,
    params,
    requiresApproval: requiresApproval === true,
  };
  if (typeof timeout === 'number') metadata.timeoutMillis = Math.round(timeout * 1000);
  return { metadata, problems };
}

function validateTrigger(raw: unknown, where: string, playbook: string, error: (message: string) => void): PlaybookTrigger | undefined {
  if (!isRecord(raw)) {
    error(`${where} must be a table like { anomaly = {...} }, { event = {...} } or { alert = {...} }`);
    return undefined;
  }
  const kinds = Object.keys(raw);
  if (kinds.length !== 1 || !['anomaly', 'event', 'alert'].includes(kinds[0] as string)) {
    error(`${where} must have exactly one of the keys anomaly, event, alert (got ${kinds.join(', ') || 'none'})`);
    return undefined;
  }
  const kind = kinds[0] as 'anomaly' | 'event' | 'alert';
  const body = raw[kind];
  if (!isRecord(body)) {
    error(`${where}.${kind} must be a table`);
    return undefined;
  }
  if (kind === 'anomaly') {
    if (typeof body.metric !== 'string' || body.metric === '') error(`${where}.anomaly.metric must be a metric name`);
    // NaN compares false both ways: test the range it must be in, not the ones it must not.
    if (body.min_score !== undefined && (typeof body.min_score !== 'number' || !(body.min_score >= 0 && body.min_score <= 1))) {
      error(`${where}.anomaly.min_score must be a number in [0, 1] (got ${describe(body.min_score)})`);
    }
    if (body.direction !== undefined && !['above', 'below', 'any'].includes(body.direction as string)) {
      error(`${where}.anomaly.direction must be "above", "below" or "any" (got ${JSON.stringify(body.direction)})`);
    }
    if (body.min_duration !== undefined && (typeof body.min_duration !== 'number' || !(body.min_duration >= 0))) {
      error(`${where}.anomaly.min_duration must be a number of seconds >= 0 (got ${JSON.stringify(body.min_duration)})`);
    }
    const maxFalse = body.max_false_per_day;
    if (maxFalse !== undefined) {
      if (typeof maxFalse !== 'number' || !Number.isFinite(maxFalse) || maxFalse < 0) {
        error(`${where}.anomaly.max_false_per_day must be a number >= 0 of false incidents per series-day (got ${describe(maxFalse)})`);
      } else if (minScoreForFalseRate(maxFalse) === undefined) {
        const rarest = rarestRate();
        error(
          `playbook '${playbook}': ${where}.anomaly.max_false_per_day = ${maxFalse} is rarer than any score of the live calibration can vouch for ` +
            `(the rarest: <= ${rarest.perSeriesDay} false incidents per series-day at score >= ${rarest.minScore}, a bound from ${rarest.seriesDays} series-days); ` +
            `allow at least ${rarest.perSeriesDay}, or set min_score instead`,
        );
      }
    }
    for (const key of Object.keys(body)) if (!anomalyTriggerKeys.includes(key)) error(`${where}.anomaly: unknown key '${key}' (known: ${anomalyTriggerKeys.join(', ')})`);
    return { anomaly: body as unknown as AnomalyTrigger };
  }
  if (kind === 'event') {
    if (typeof body.type !== 'string' || body.type === '') error(`${where}.event.type must be an event type`);
    return { event: body as { type: string } & Record<string, unknown> };
  }
  if (typeof body.name !== 'string' || body.name === '') error(`${where}.alert.name must be an alert name`);
  for (const key of Object.keys(body)) if (!['name', 'level'].includes(key)) error(`${where}.alert: unknown key '${key}'`);
  return { alert: body as { name: string; level?: string } };
}

function validateParamSpec(param: string, spec: unknown, error: (message: string) => void): PlaybookParamSpec | undefined {
  if (!isRecord(spec)) {
    error(`params.${param} must be a table { type = ..., required = ..., default = ..., description = ... }`);
    return undefined;
  }
  for (const key of Object.keys(spec)) {
    if (!['type', 'required', 'default', 'description'].includes(key)) error(`params.${param}: unknown key '${key}'`);
  }
  const type = spec.type;
  if (typeof type !== 'string' || !paramTypes.includes(type as PlaybookParamType)) {
    error(`params.${param}.type must be one of ${paramTypes.join(', ')} (got ${JSON.stringify(type ?? null)})`);
    return undefined;
  }
  if (spec.required !== undefined && typeof spec.required !== 'boolean') error(`params.${param}.required must be true or false`);
  if (spec.description !== undefined && typeof spec.description !== 'string') error(`params.${param}.description must be a string`);
  const checked: PlaybookParamSpec = { type: type as PlaybookParamType, required: spec.required === true };
  if (typeof spec.description === 'string') checked.description = spec.description;
  if (spec.default !== undefined) {
    const problem = checkParamValue(checked.type, spec.default);
    if (problem !== undefined) error(`params.${param}.default ${problem}`);
    checked.default = spec.default;
  }
  return checked;
}

function checkParamValue(type: PlaybookParamType, value: unknown): string | undefined {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? undefined : `must be a string, got ${describe(value)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `must be a number, got ${describe(value)}`;
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : `must be an integer, got ${describe(value)}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `must be true or false, got ${describe(value)}`;
    case 'table':
      return typeof value === 'object' && value !== null ? undefined : `must be a table, got ${describe(value)}`;
  }
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a table';
  // JSON has no NaN or Infinity: it would print them as null.
  return typeof value === 'number' ? `number ${String(value)}` : `${typeof value} ${JSON.stringify(value)}`;
}

/** Turns a CLI or API string into the declared type (`--param limit=10` → 10); other values pass through. */
function coerce(type: PlaybookParamType, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  switch (type) {
    case 'number':
    case 'integer': {
      const n = Number(value);
      return value.trim() !== '' && Number.isFinite(n) ? n : value;
    }
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'table':
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value;
      }
    default:
      return value;
  }
}

/**
 * Validates run parameters against a playbook's schema: applies defaults,
 * coerces strings to the declared types, and reports every problem, each
 * naming its parameter.
 */
export function validateParams(metadata: PlaybookMetadata, params: Record<string, unknown>): { params: Record<string, unknown>; problems: string[] } {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(metadata.params)) {
    const given = params[name];
    if (given === undefined || given === null) {
      if (spec.default !== undefined) out[name] = structuredClone(spec.default);
      else if (spec.required) problems.push(`param '${name}' is required (${spec.type}${spec.description ? `: ${spec.description}` : ''})`);
      continue;
    }
    const value = coerce(spec.type, given);
    const problem = checkParamValue(spec.type, value);
    if (problem !== undefined) problems.push(`param '${name}' ${problem}`);
    else out[name] = value;
  }
  for (const name of Object.keys(params)) {
    if (!(name in metadata.params)) {
      // Sorted: a Lua table's key order is not stable from one load to the next.
      const known = Object.keys(metadata.params).sort();
      problems.push(`param '${name}' is not declared by playbook '${metadata.name}' (declared: ${known.length === 0 ? 'none' : known.join(', ')})`);
    }
  }
  return { params: out, problems };
}

/**
 * Required parameters a triggered run could not get: neither a default, nor a configured value
 * (`playbookParams.<name>` of the scheduler). A playbook with any is not loaded for triggers (a run
 * would only fail on configuration); the messages name each parameter and where to set it.
 */
export function missingConfiguration(metadata: PlaybookMetadata, configured: Readonly<Record<string, unknown>> = {}): string[] {
  const missing: string[] = [];
  for (const [name, spec] of Object.entries(metadata.params)) {
    if (!spec.required || spec.default !== undefined) continue;
    const value = configured[name];
    if (value !== undefined && value !== null && value !== '') continue;
    missing.push(
      `playbook '${metadata.name}' needs param '${name}' (${spec.type}${spec.description ? `: ${spec.description}` : ''}); set scheduler.playbookParams.${metadata.name}.${name} in the config file`,
    );
  }
  return missing;
}
