import type { AnomalyEvent, IncidentGroupSummary, IncidentState } from '@sloth/core';

export interface IncidentGroupOptions {
  /**
   * An incident joins its agent's latest group when it opens within this much sample time of the
   * group's latest opening (so a group is a chain of openings no further apart than this).
   */
  windowMillis: number;
  /** Members a transition lists, highest peak score first. @defaultValue 10 */
  listedMembers?: number;
  /** A group this large takes no more members (a host that keeps opening incidents starts a new group). @defaultValue 100 */
  maxMembers?: number;
  /** Groups kept in memory; beyond it the oldest is forgotten (its members' later transitions rebuild it). @defaultValue 10000 */
  maxGroups?: number;
}

interface Member {
  incidentId: string;
  seriesId: string;
  metric: string;
  direction: 'above' | 'below';
  peakScore: number;
  state: IncidentState;
}

interface Group {
  id: string;
  agentId: string;
  firstSeenMillis: number;
  lastOpenMillis: number;
  members: Map<string, Member>;
}

/**
 * Groups the incidents of one agent that open close together in time (a CPU burn that also moves
 * the load average and a process count is one thing to look at, not three) and ranks each group's
 * incidents by peak score, as Netdata's anomaly advisor ranks a host's metrics. Every transition of
 * a grouped incident carries the `groupId` and the group as it stands (`group`).
 *
 * The groups live in this process: a series scored elsewhere (another shard's process) is grouped
 * there. After a restart an open incident keeps its `groupId` (it is saved with the series), and its
 * group is rebuilt from the members that publish again.
 */
export class IncidentGroups {
  private readonly windowMillis: number;
  private readonly listedMembers: number;
  private readonly maxMembers: number;
  private readonly maxGroups: number;
  /** The group an agent's next incident may join. */
  private readonly latest = new Map<string, Group>();
  /** Groups with an open member, or an agent's latest. */
  private readonly groups = new Map<string, Group>();

  constructor(options: IncidentGroupOptions) {
    if (!(options.windowMillis > 0)) throw new Error(`incident grouping needs a window above 0 ms (got ${options.windowMillis})`);
    this.windowMillis = options.windowMillis;
    this.listedMembers = options.listedMembers ?? 10;
    this.maxMembers = options.maxMembers ?? 100;
    this.maxGroups = options.maxGroups ?? 10_000;
  }

  /** Groups kept in memory (for tests and metrics). */
  get size(): number {
    return this.groups.size;
  }

  /**
   * Puts a transition's incident in its group and returns the transition with `groupId` and `group`.
   * An `open` joins the agent's latest group or starts one; later transitions carry the `groupId`
   * their incident was given (the tracker copies it from the incident).
   */
  place(event: AnomalyEvent): AnomalyEvent {
    if (event.incidentId === undefined || event.state === undefined || event.direction === undefined) return event;
    const group = event.state === 'open' ? this.groupForOpen(event) : this.groupOf(event);
    const member: Member = {
      incidentId: event.incidentId,
      seriesId: event.seriesId,
      metric: event.metric,
      direction: event.direction,
      peakScore: event.peakScore ?? event.score,
      state: event.state,
    };
    group.members.set(member.incidentId, member);
    const summary = this.summary(group);
    if (event.state === 'resolved') this.forgetIfDone(group);
    return { ...event, groupId: group.id, group: summary };
  }

  private groupForOpen(event: AnomalyEvent): Group {
    const openedMillis = event.firstSeenMillis ?? event.timestampMillis;
    const latest = this.latest.get(event.agentId);
    // Series of one batch are scored in turn, not in time order: a member may open a little before the latest.
    if (latest !== undefined && Math.abs(openedMillis - latest.lastOpenMillis) <= this.windowMillis && latest.members.size < this.maxMembers) {
      latest.lastOpenMillis = Math.max(latest.lastOpenMillis, openedMillis);
      latest.firstSeenMillis = Math.min(latest.firstSeenMillis, openedMillis);
      return latest;
    }
    const group: Group = { id: groupIdOf(event.incidentId as string), agentId: event.agentId, firstSeenMillis: openedMillis, lastOpenMillis: openedMillis, members: new Map() };
    if (latest !== undefined) {
      this.latest.delete(event.agentId);
      this.forgetIfDone(latest);
    }
    this.latest.set(event.agentId, group);
    this.remember(group);
    return group;
  }

  /** The group an `update`/`resolved` belongs to; rebuilt (from this member on) when this process has not seen it. */
  private groupOf(event: AnomalyEvent): Group {
    const id = event.groupId ?? groupIdOf(event.incidentId as string);
    let group = this.groups.get(id);
    if (group === undefined) {
      const firstSeenMillis = event.firstSeenMillis ?? event.timestampMillis;
      group = { id, agentId: event.agentId, firstSeenMillis, lastOpenMillis: firstSeenMillis, members: new Map() };
      this.remember(group);
    }
    return group;
  }

  /** Keeps a new group; a member whose series never publishes again must not keep its group for ever. */
  private remember(group: Group): void {
    this.groups.set(group.id, group);
    if (this.groups.size <= this.maxGroups) return;
    const oldest = this.groups.values().next().value as Group;
    this.groups.delete(oldest.id);
    if (this.latest.get(oldest.agentId) === oldest) this.latest.delete(oldest.agentId);
  }

  /** Drops a group that can change no more: every member resolved, and no new incident may join it. */
  private forgetIfDone(group: Group): void {
    if (this.latest.get(group.agentId) === group) return;
    for (const member of group.members.values()) if (member.state !== 'resolved') return;
    this.groups.delete(group.id);
  }

  private summary(group: Group): IncidentGroupSummary {
    const ranked = [...group.members.values()].sort((a, b) => b.peakScore - a.peakScore || a.seriesId.localeCompare(b.seriesId));
    return { firstSeenMillis: group.firstSeenMillis, incidents: group.members.size, members: ranked.slice(0, this.listedMembers).map((m) => ({ ...m })) };
  }
}

/** A group is named after the incident that started it. */
function groupIdOf(incidentId: string): string {
  return `grp-${incidentId.replace(/^inc-/, '')}`;
}
