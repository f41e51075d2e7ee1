import type { Alert } from '../alert.js';
import type { Notification } from '../dispatcher.js';
import type { RemediationNote } from '../signals.js';
import { renderTemplate } from '../template.js';

/** Slack's limits (Block Kit): blocks per message, characters per text object, header text. */
export const slackLimits = { blocks: 50, text: 3000, header: 150, buttons: 25 } as const;

export interface SlackLinks {
  /** Dashboard link template (`{{ $labels.agent }}` filled in). */
  dashboard?: string | undefined;
  /** Silence link template; gets `?matchers=` of the alert appended when it has no `{{`. */
  silence?: string | undefined;
}

type Block = Record<string, unknown>;

const severityIcon: Record<string, string> = { critical: ':red_circle:', warning: ':large_orange_circle:', info: ':large_blue_circle:' };

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function mrkdwn(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, slackLimits.text) } };
}

function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '?';
  return Math.abs(value) >= 1000 || Number.isInteger(value) ? String(Math.round(value * 100) / 100) : String(Number(value.toPrecision(4)));
}

/** Escapes Slack's control characters in user-provided text. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The matchers a silence of this alert uses: its name and agent. */
function silenceMatchers(alert: Alert): string[] {
  return ['alertname', 'agent'].filter((k) => alert.labels[k] !== undefined).map((k) => `${k}="${(alert.labels[k] ?? '').replace(/["\\]/g, '\\$&')}"`);
}

function silenceLink(template: string, alert: Alert): string {
  if (template.includes('{{')) return renderTemplate(template, { labels: alert.labels });
  return `${template}${template.includes('?') ? '&' : '?'}matchers=${encodeURIComponent(silenceMatchers(alert).join(','))}`;
}

/** `sloth alerts silence 'alertname="HighCpu"' 'agent="web-1"' --duration 2h --comment "…"`, shell-quoted. */
function silenceCommand(alert: Alert): string {
  const quoted = silenceMatchers(alert).map((m) => `'${m.replace(/'/g, "'\\''")}'`);
  return `sloth alerts silence ${quoted.join(' ')} --duration 2h --comment "why"`;
}

function alertBlocks(alert: Alert, links: SlackLinks, remediation: RemediationNote | undefined): Block[] {
  const l = alert.labels;
  const severity = l.severity ?? 'none';
  const lines: string[] = [];
  const title = alert.annotations.summary ?? l.alertname ?? 'alert';
  lines.push(`${alert.status === 'resolved' ? ':white_check_mark:' : (severityIcon[severity] ?? ':white_circle:')} *${esc(l.alertname ?? 'alert')}* — ${esc(title)}`);
  const where = [l.agent !== undefined ? `agent \`${esc(l.agent)}\`` : undefined, l.metric !== undefined ? `series \`${esc(l.metric)}\`` : undefined].filter((x) => x !== undefined);
  lines.push(`*Severity:* ${esc(severity)}${where.length > 0 ? `   *Where:* ${where.join(', ')}` : ''}`);
  if (alert.value !== undefined) {
    const range = alert.expectedLow !== undefined || alert.expectedHigh !== undefined ? ` (expected ${formatNumber(alert.expectedLow)} – ${formatNumber(alert.expectedHigh)})` : '';
    lines.push(`*Value:* ${formatNumber(alert.value)}${range}`);
  }
  if (alert.annotations.description !== undefined) lines.push(esc(alert.annotations.description));
  if (alert.flapping) lines.push(`:warning: *Flapping:* ${esc(alert.annotations.flapping ?? 'the condition keeps changing')}; further changes are held until it settles`);
  if (remediation !== undefined) lines.push(`*Remediation:* \`${esc(remediation.playbook)}\` ${esc(remediation.state)}${remediation.message === undefined ? '' : ` — ${esc(remediation.message)}`}`);
  const since = new Date(alert.startsAtMillis).toISOString();
  lines.push(alert.status === 'resolved' && alert.endsAtMillis !== undefined ? `_Resolved at ${new Date(alert.endsAtMillis).toISOString()} (firing since ${since})_` : `_Firing since ${since}_`);
  const blocks: Block[] = [mrkdwn(lines.join('\n'))];
  const buttons: Block[] = [];
  if (links.dashboard !== undefined) buttons.push({ type: 'button', text: { type: 'plain_text', text: 'Dashboard' }, url: renderTemplate(links.dashboard, { labels: l }) });
  if (alert.annotations.runbook_url !== undefined) buttons.push({ type: 'button', text: { type: 'plain_text', text: 'Runbook' }, url: alert.annotations.runbook_url });
  if (links.silence !== undefined && alert.status === 'firing') buttons.push({ type: 'button', text: { type: 'plain_text', text: 'Silence' }, url: silenceLink(links.silence, alert) });
  // No silence page of the team's own: the command that silences it, to copy (the alerts API needs a token, no browser has one).
  if (links.silence === undefined && alert.status === 'firing') blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(`Silence: \`${esc(silenceCommand(alert))}\``, slackLimits.text) }] });
  if (buttons.length > 0) blocks.push({ type: 'actions', elements: buttons.slice(0, slackLimits.buttons) });
  return blocks;
}

/**
 * Block Kit message for a notification: a header, then per alert a section
 * (severity, agent/series, value against the expected range, remediation) and
 * link buttons. Stays inside 50 blocks by listing as many alerts as fit and
 * saying how many more there are.
 */
export function slackMessage(notification: Notification, links: SlackLinks, remediationOf: (agentId: string) => RemediationNote | undefined): { text: string; blocks: Block[] } {
  const firing = notification.firing.length;
  const resolved = notification.resolved.length;
  const name = notification.groupLabels.alertname ?? notification.firing[0]?.labels.alertname ?? notification.resolved[0]?.labels.alertname ?? 'alerts';
  const status = firing > 0 ? `FIRING:${firing}` : `RESOLVED:${resolved}`;
  const groupText = Object.entries(notification.groupLabels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${v}`).join(' ');
  const text = truncate(`[${status}] ${name}${groupText === '' ? '' : ` (${groupText})`}${firing > 0 && resolved > 0 ? `, ${resolved} resolved` : ''}`, slackLimits.header);
  const blocks: Block[] = [{ type: 'header', text: { type: 'plain_text', text: truncate(text, slackLimits.header) } }];
  const alerts = [...notification.firing, ...notification.resolved];
  // Reserve the last two blocks for "and N more" and the footer.
  const budget = slackLimits.blocks - 2;
  let shown = 0;
  for (const alert of alerts) {
    const more = alertBlocks(alert, links, alert.labels.agent === undefined ? undefined : remediationOf(alert.labels.agent));
    if (blocks.length + more.length + 1 > budget) break;
    blocks.push(...more, { type: 'divider' });
    shown += 1;
  }
  if (shown < alerts.length) blocks.push(mrkdwn(`…and ${alerts.length - shown} more alert(s) not shown (Slack allows ${slackLimits.blocks} blocks per message).`));
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(`Sloth alerts · receiver ${notification.receiver} · ${new Date(notification.atMillis).toISOString()}`, slackLimits.text) }] });
  return { text, blocks };
}
