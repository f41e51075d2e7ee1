import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, yamlProblemMessage, parseYamlQuietly, type ConfigProblem } from '@sloth/core';
import { parseDurationMillis } from './duration.js';
import { globToRegExp, parseMatcher, type Matcher } from './labels.js';
import { compileRoute, walkRoutes, type Route } from './routing.js';
import { alertsFileSchema, secretValueSchemas, type AlertsFileSpec, type ReceiverFileSpec, type ReceiverSpec, type RuleSpec } from './rules-schema.js';
import { readSecretFile } from './secret-files.js';
import { compileTimeInterval, type TimeInterval } from './time-intervals.js';

/** A rule ready to evaluate: its spec plus parsed durations and matchers. */
export interface CompiledRule {
  readonly spec: RuleSpec;
  readonly name: string;
  readonly forMillis: number;
  readonly keepFiringForMillis: number;
  /** stale_after / resolve_after / silent_for, whichever the type has. */
  readonly windowMillis: number;
  /** forecast `within`, anomaly `min_duration`; else 0. */
  readonly horizonMillis: number;
  /** anomaly `quiet_after`; else 0. */
  readonly quietMillis: number;
  readonly metric: RegExp;
  readonly agent: RegExp | undefined;
  readonly matchers: readonly Matcher[];
}

export interface InhibitRule {
  readonly source: readonly Matcher[];
  readonly target: readonly Matcher[];
  readonly equal: readonly string[];
}

/** The whole alerts file, validated and compiled, frozen. */
export interface AlertsFile {
  readonly path: string;
  readonly evaluationIntervalMillis: number;
  readonly resolvedRetentionMillis: number;
  readonly sendResolvedForMuted: boolean;
  readonly links: AlertsFileSpec['links'];
  readonly rules: readonly CompiledRule[];
  readonly route: Route;
  readonly inhibitRules: readonly InhibitRule[];
  readonly timeIntervals: ReadonlyMap<string, TimeInterval>;
  readonly receivers: ReadonlyMap<string, ReceiverSpec>;
  /** The `_file` secrets read (absolute paths): a change to one reloads the file as an edit would. */
  readonly secretFiles: readonly string[];
}

/** Reads, validates and compiles an alerts file; a {@link ConfigError} lists every problem with file, rule and field. */
export function loadAlertsFile(path: string): AlertsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([{ key: '(file)', source: path, value: undefined, message: `cannot read the alerts file: ${(error as Error).message}` }]);
  }
  return parseAlertsFile(text, path);
}

export function parseAlertsFile(text: string, path = 'alerts.yaml'): AlertsFile {
  const data = readYaml(text, path);
  const problems: ConfigProblem[] = [];
  const parsed = alertsFileSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Receiver URLs, tokens and signing secrets are secrets: a problem names the field, never the value.
      // An unknown key is reported on the object that holds it, which may hold secrets too: no value then.
      const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : undefined;
      const secret = unknownKeys !== undefined || issue.path.some((p) => typeof p === 'string' && secretKeys.has(p)) || (issue.path.includes('receivers') && issue.path.length >= 2);
      const value = unknownKeys !== undefined ? undefined : valueAt(data, issue.path);
      const message = unknownKeys === undefined ? issue.message : `${issue.message}${alertmanagerHints(unknownKeys)}`;
      problems.push({ key: describePath(data, issue.path), source: path, value: secret && value !== undefined ? '(secret, not shown)' : value, message });
    }
    throw new ConfigError(problems);
  }
  const spec = parsed.data;
  const problem = (key: string, message: string, value?: unknown): void => {
    problems.push({ key, source: path, value, message });
  };
  const duration = (value: string | number, key: string): number => {
    try {
      return parseDurationMillis(value, key);
    } catch (error) {
      problem(key, (error as Error).message, value);
      return 0;
    }
  };

  const names = new Set<string>();
  const rules = spec.rules.map((rule, i): CompiledRule => {
    const where = `rules[${i}] (${rule.name})`;
    if (names.has(rule.name)) problem(`${where}.name`, 'another rule has this name; rule names must be unique', rule.name);
    names.add(rule.name);
    const matchers: Matcher[] = [];
    const matcherTexts = 'matchers' in rule ? rule.matchers : [];
    matcherTexts.forEach((m, j) => {
      try {
        matchers.push(parseMatcher(m));
      } catch (error) {
        problem(`${where}.matchers[${j}]`, (error as Error).message, m);
      }
    });
    let windowMillis = 0;
    let horizonMillis = 0;
    let quietMillis = 0;
    if (rule.type === 'threshold') windowMillis = duration(rule.stale_after, `${where}.stale_after`);
    if (rule.type === 'forecast') {
      windowMillis = duration(rule.stale_after, `${where}.stale_after`);
      horizonMillis = duration(rule.within, `${where}.within`);
    }
    if (rule.type === 'anomaly') {
      windowMillis = duration(rule.resolve_after, `${where}.resolve_after`);
      horizonMillis = duration(rule.min_duration, `${where}.min_duration`);
      quietMillis = duration(rule.quiet_after, `${where}.quiet_after`);
    }
    if (rule.type === 'absence') {
      windowMillis = duration(rule.silent_for, `${where}.silent_for`);
      if (rule.agent_down === (rule.metric !== undefined)) problem(`${where}`, 'an absence rule needs exactly one of agent_down: true or metric (with silent_for)');
    }
    if (rule.type === 'threshold' && rule.recover !== undefined) {
      const wrongSide = rule.op.startsWith('>') ? rule.recover > rule.threshold : rule.recover < rule.threshold;
      if (wrongSide) problem(`${where}.recover`, `with op ${rule.op} the recovery level must be on the other side of threshold ${rule.threshold}`, rule.recover);
    }
    const metric = 'metric' in rule && rule.metric !== undefined ? rule.metric : '*';
    return Object.freeze({
      spec: rule,
      name: rule.name,
      forMillis: duration(rule.for, `${where}.for`),
      keepFiringForMillis: duration(rule.keep_firing_for, `${where}.keep_firing_for`),
      windowMillis,
      horizonMillis,
      quietMillis,
      metric: globToRegExp(metric),
      agent: rule.agent === undefined ? undefined : globToRegExp(rule.agent),
      matchers,
    });
  });

  const receivers = new Map<string, ReceiverSpec>();
  const secrets = new SecretReader(dirname(resolve(path)), problem);
  spec.receivers.forEach((r, i) => {
    if (receivers.has(r.name)) problem(`receivers[${i}].name`, 'another receiver has this name', r.name);
    receivers.set(r.name, secrets.receiver(r, `receivers[${i}] (${r.name})`));
  });
  const timeIntervals = new Map<string, TimeInterval>();
  spec.time_intervals.forEach((t, i) => {
    try {
      timeIntervals.set(t.name, compileTimeInterval(t));
    } catch (error) {
      problem(`time_intervals[${i}] (${t.name})`, (error as Error).message);
    }
  });
  const route = compileRoute(spec.route, problem);
  for (const node of walkRoutes(route)) {
    const where = node.id === '0' ? 'route' : `route ${node.id}`;
    if (node.receiver !== '' && !receivers.has(node.receiver)) problem(`${where}.receiver`, `no receiver is named ${JSON.stringify(node.receiver)}; receivers are ${[...receivers.keys()].join(', ')}`, node.receiver);
    for (const name of [...node.muteTimeIntervals, ...node.activeTimeIntervals]) {
      if (!timeIntervals.has(name)) problem(`${where}.time intervals`, `no time interval is named ${JSON.stringify(name)}`, name);
    }
  }
  const inhibitRules = spec.inhibit_rules.map((r, i): InhibitRule => {
    const parse = (list: string[], key: string): Matcher[] =>
      list.flatMap((m, j) => {
        try {
          return [parseMatcher(m)];
        } catch (error) {
          problem(`inhibit_rules[${i}].${key}[${j}]`, (error as Error).message, m);
          return [];
        }
      });
    return Object.freeze({ source: parse(r.source_matchers, 'source_matchers'), target: parse(r.target_matchers, 'target_matchers'), equal: r.equal });
  });

  const evaluationIntervalMillis = duration(spec.evaluation_interval, 'evaluation_interval');
  if (evaluationIntervalMillis <= 0 && problems.length === 0) problem('evaluation_interval', 'must be more than 0', spec.evaluation_interval);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    path,
    evaluationIntervalMillis,
    resolvedRetentionMillis: duration(spec.resolved_retention, 'resolved_retention'),
    sendResolvedForMuted: spec.send_resolved_for_muted,
    links: spec.links,
    rules,
    route,
    inhibitRules,
    timeIntervals,
    receivers,
    secretFiles: secrets.files,
  });
}

/**
 * Fills each receiver secret given as `<key>_file` from its file (relative paths from the alerts file's
 * directory), at every load and reload. Problems name the key and the path; the value is never put in a
 * problem, not even as a `value` for masking to hide, since the content may be the wrong secret pasted.
 */
class SecretReader {
  readonly files: string[] = [];

  constructor(
    private readonly baseDir: string,
    private readonly problem: (key: string, message: string) => void,
  ) {}

  receiver(r: ReceiverFileSpec, where: string): ReceiverSpec {
    const slack = r.slack?.map(({ webhook_url_file, bot_token_file, ...s }, j) => {
      const at = `${where}.slack[${j}]`;
      return {
        ...s,
        webhook_url: s.webhook_url ?? this.read(webhook_url_file, `${at}.webhook_url_file`, (text) => (secretValueSchemas.webhook_url.safeParse(text).success ? undefined : 'is not a URL')),
        bot_token: s.bot_token ?? this.read(bot_token_file, `${at}.bot_token_file`, (text) => (secretValueSchemas.bot_token.safeParse(text).success ? undefined : 'is shorter than 8 characters')),
      };
    });
    const webhook = r.webhook?.map(({ url_file, secrets_file, ...w }, j) => {
      const at = `${where}.webhook[${j}]`;
      const url = w.url ?? this.read(url_file, `${at}.url_file`, (text) => (secretValueSchemas.url.safeParse(text).success ? undefined : 'is not a URL')) ?? '';
      const secretsText = w.secrets === undefined ? this.read(secrets_file, `${at}.secrets_file`, secretLinesProblem) : undefined;
      return { ...w, url, secrets: w.secrets ?? secretLines(secretsText ?? '') };
    });
    return { ...r, slack, webhook };
  }

  /** The file's trimmed text, or undefined (with a problem) when it cannot be used; `check` sees the text and says only what is wrong with it. */
  private read(file: string | undefined, key: string, check: (text: string) => string | undefined): string | undefined {
    if (file === undefined) return undefined;
    const path = resolve(this.baseDir, file);
    this.files.push(path);
    const read = readSecretFile(path);
    if (!read.ok) {
      this.problem(key, `cannot use the secret file: ${read.problem}`);
      return undefined;
    }
    const wrong = check(read.text);
    if (wrong !== undefined) {
      this.problem(key, `the content of ${path} ${wrong} (the content is not shown)`);
      return undefined;
    }
    return read.text;
  }
}

/** `secrets_file` holds one signing secret per line (two while rotating); blank lines and `#` comments are skipped. */
function secretLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function secretLinesProblem(text: string): string | undefined {
  const lines = secretLines(text);
  if (lines.length === 0 || lines.length > 2) return `holds ${lines.length} secrets; put one or two (while rotating), one per line`;
  if (lines.some((line) => !secretValueSchemas.secret.safeParse(line).success)) return 'holds a secret shorter than 8 characters';
  return undefined;
}

/**
 * The file's data. A syntax error names its line, column and the parser's reason only: the parser's own
 * message quotes the offending line, and in an alerts file that line is often a webhook URL or a token
 * (schema problems hide such values; a syntax error must not show them either). Every error at once.
 */
function readYaml(text: string, path: string): unknown {
  const parsed = parseYamlQuietly(text);
  if (parsed.ok) return parsed.data ?? {};
  throw new ConfigError(parsed.problems.map((problem): ConfigProblem => ({ key: '(file)', source: path, value: undefined, message: yamlProblemMessage(problem) })));
}

/** Alertmanager's names for keys Sloth spells differently (people bring their alertmanager.yml). */
const alertmanagerKeys: Readonly<Record<string, string>> = {
  slack_configs: 'slack',
  webhook_configs: 'webhook',
  match: 'matchers (e.g. [\'severity="critical"\'])',
  match_re: 'matchers (e.g. [\'severity=~"critical|warning"\'])',
  source_match: 'source_matchers',
  target_match: 'target_matchers',
  api_url: 'webhook_url (Slack) or url (webhook)',
  http_config: 'secrets (Standard Webhooks signatures)',
};

/** " (Alertmanager's X is Y in Sloth's alerts file)" for the unknown keys that are Alertmanager's, else "". */
function alertmanagerHints(keys: readonly string[]): string {
  const hints = keys.filter((k) => alertmanagerKeys[k] !== undefined).map((k) => `Alertmanager's "${k}" is ${alertmanagerKeys[k] ?? ''} here`);
  return hints.length === 0 ? '' : ` (${hints.join('; ')}: see docs/alerts.md)`;
}

const secretKeys = new Set(['webhook_url', 'bot_token', 'secrets', 'url']);

/** `rules[2] (HighCpu).threshold` instead of `rules.2.threshold`: the rule's name is what a person searches for. */
function describePath(data: unknown, path: readonly PropertyKey[]): string {
  let text = '';
  let node: unknown = data;
  for (const part of path) {
    if (typeof part === 'number') {
      node = Array.isArray(node) ? node[part] : undefined;
      const name = node !== null && typeof node === 'object' ? (node as Record<string, unknown>).name : undefined;
      text += `[${part}]${typeof name === 'string' ? ` (${name})` : ''}`;
    } else {
      node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[part] : undefined;
      text += text === '' ? String(part) : `.${String(part)}`;
    }
  }
  return text === '' ? '(file)' : text;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((v, p) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined), data);
}
