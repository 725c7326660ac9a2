import type {
  ClaimDueOptions,
  ClaimUnstartedOptions,
  Schedule,
  ScheduleFiring,
  ScheduleStore,
} from './schedule.js';
import { dueFiring } from './schedule.js';

/** Whether a workflow status is one a workflow has not ended in. */
export const isUnended = (status: string | undefined): boolean =>
  status === 'PENDING' || status === 'RUNNING' || status === 'PAUSED';

/** Schedules of an in-process store (memory): each claim is one synchronous step. */
export class ScheduleLog implements ScheduleStore {
  private readonly schedules = new Map<string, Schedule>();
  private readonly fired = new Map<string, Map<number, ScheduleFiring>>();

  /** @param workflowStatus The status of a stored workflow (overlap checks), undefined: none. */
  constructor(private readonly workflowStatus: (id: string) => string | undefined) {}

  async save(schedule: Schedule): Promise<void> {
    this.schedules.set(schedule.id, structuredClone(schedule));
  }

  async get(id: string): Promise<Schedule | undefined> {
    const schedule = this.schedules.get(id);
    return schedule && structuredClone(schedule);
  }

  async list(): Promise<Schedule[]> {
    return [...this.schedules.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((schedule) => structuredClone(schedule));
  }

  async delete(id: string): Promise<boolean> {
    this.fired.delete(id);
    return this.schedules.delete(id);
  }

  async claimDue(options: ClaimDueOptions): Promise<ScheduleFiring[]> {
    const due = [...this.schedules.values()]
      .filter((s) => !s.paused && s.nextRunAt !== null && s.nextRunAt <= options.now)
      .sort((a, b) => a.nextRunAt! - b.nextRunAt! || (a.id < b.id ? -1 : 1))
      .slice(0, Math.max(0, options.limit));
    const recorded: ScheduleFiring[] = [];
    for (const schedule of due) {
      const previousRunning =
        schedule.lastWorkflowId !== null && isUnended(this.workflowStatus(schedule.lastWorkflowId));
      const plan = options.plan({ schedule: structuredClone(schedule), previousRunning });
      for (const occurrenceAt of plan.occurrences) {
        const firing = dueFiring(schedule.id, occurrenceAt, options);
        if (this.insert(firing)) recorded.push(structuredClone(firing));
      }
      schedule.nextRunAt = plan.nextRunAt;
      schedule.updatedAt = options.now;
    }
    return recorded;
  }

  async recordFiring(firing: ScheduleFiring): Promise<boolean> {
    if (!this.schedules.has(firing.scheduleId)) return false;
    return this.insert(structuredClone(firing));
  }

  async firings(scheduleId: string): Promise<ScheduleFiring[]> {
    const fired = [...(this.fired.get(scheduleId)?.values() ?? [])];
    return fired.sort((a, b) => a.occurrenceAt - b.occurrenceAt).map((f) => structuredClone(f));
  }

  async claimUnstarted(options: ClaimUnstartedOptions): Promise<ScheduleFiring[]> {
    const unstarted = [...this.fired.values()]
      .flatMap((fired) => [...fired.values()])
      .filter((f) => f.firedAt <= options.firedBefore && this.workflowStatus(f.workflowId) === undefined)
      .sort((a, b) => a.firedAt - b.firedAt || (a.scheduleId < b.scheduleId ? -1 : 1))
      .slice(0, Math.max(0, options.limit));
    for (const firing of unstarted) {
      firing.firedBy = options.engineId;
      firing.firedAt = options.now;
    }
    return unstarted.map((f) => structuredClone(f));
  }

  /** Records a firing unless its occurrence is recorded; it becomes the schedule's last workflow. */
  private insert(firing: ScheduleFiring): boolean {
    let fired = this.fired.get(firing.scheduleId);
    if (!fired) this.fired.set(firing.scheduleId, (fired = new Map()));
    if (fired.has(firing.occurrenceAt)) return false;
    fired.set(firing.occurrenceAt, firing);
    const schedule = this.schedules.get(firing.scheduleId)!;
    schedule.lastWorkflowId = firing.workflowId;
    return true;
  }
}
