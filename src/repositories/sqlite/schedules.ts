import type {
  ClaimDueOptions,
  ClaimUnstartedOptions,
  Schedule,
  ScheduleFiring,
  ScheduleStore,
} from '../../schedules/schedule.js';
import { dueFiring } from '../../schedules/schedule.js';
import {
  FIRING_COLUMNS,
  firingValues,
  SCHEDULE_COLUMNS,
  scheduleValues,
  toFiring,
  toSchedule,
  type FiringRow,
  type ScheduleRow,
} from '../../schedules/schedule-rows.js';
import type { SqliteConnection } from './sqlite-connection.js';

const columns = SCHEDULE_COLUMNS.join(', ');
const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
const unended = `('PENDING', 'RUNNING', 'PAUSED')`;

const SQL = {
  save: `INSERT OR REPLACE INTO schedules (${columns}) VALUES (${marks(SCHEDULE_COLUMNS.length)})`,
  get: `SELECT ${columns} FROM schedules WHERE id = ?`,
  list: `SELECT ${columns} FROM schedules ORDER BY id`,
  deleteFirings: `DELETE FROM schedule_firings WHERE schedule_id = ?`,
  delete: `DELETE FROM schedules WHERE id = ?`,
  due:
    `SELECT ${SCHEDULE_COLUMNS.map((c) => `s.${c}`).join(', ')},` +
    ` coalesce(w.status IN ${unended}, 0) AS previous_running FROM schedules AS s` +
    ` LEFT JOIN workflows AS w ON w.id = s.last_workflow_id` +
    ` WHERE s.paused = 0 AND s.next_run_at IS NOT NULL AND s.next_run_at <= ?` +
    ` ORDER BY s.next_run_at, s.id LIMIT ?`,
  insertFiring:
    `INSERT INTO schedule_firings (${FIRING_COLUMNS.join(', ')}) VALUES (${marks(FIRING_COLUMNS.length)})` +
    ` ON CONFLICT DO NOTHING`,
  setLast: `UPDATE schedules SET last_workflow_id = ? WHERE id = ?`,
  advance: `UPDATE schedules SET next_run_at = ?, updated_at = ? WHERE id = ?`,
  exists: `SELECT 1 FROM schedules WHERE id = ?`,
  firings: `SELECT ${FIRING_COLUMNS.join(', ')} FROM schedule_firings WHERE schedule_id = ? ORDER BY occurrence_at`,
  unstarted:
    `SELECT ${FIRING_COLUMNS.map((c) => `f.${c}`).join(', ')} FROM schedule_firings AS f` +
    ` WHERE f.fired_at <= ? AND NOT EXISTS (SELECT 1 FROM workflows AS w WHERE w.id = f.workflow_id)` +
    ` ORDER BY f.fired_at, f.schedule_id LIMIT ?`,
  refire: `UPDATE schedule_firings SET fired_by = ?, fired_at = ? WHERE schedule_id = ? AND occurrence_at = ?`,
} as const;

/** Schedules on SQLite (migration 8): a claim runs in the write transaction, which serialises claims. */
export class SqliteSchedules implements ScheduleStore {
  constructor(private readonly connection: SqliteConnection) {}

  async save(schedule: Schedule): Promise<void> {
    this.connection.write(() => this.connection.statement(SQL.save).run(...scheduleValues(schedule, Number)));
  }

  async get(id: string): Promise<Schedule | undefined> {
    const row = this.connection.read(() => this.connection.statement(SQL.get).get(id)) as
      ScheduleRow | undefined;
    return row && toSchedule(row);
  }

  async list(): Promise<Schedule[]> {
    const rows = this.connection.read(() => this.connection.statement(SQL.list).all()) as ScheduleRow[];
    return rows.map(toSchedule);
  }

  async delete(id: string): Promise<boolean> {
    return this.connection.write(() => {
      this.connection.statement(SQL.deleteFirings).run(id);
      return this.connection.statement(SQL.delete).run(id).changes > 0;
    });
  }

  async claimDue(options: ClaimDueOptions): Promise<ScheduleFiring[]> {
    if (options.limit <= 0) return [];
    return this.connection.write(() => {
      const rows = this.connection.statement(SQL.due).all(options.now, options.limit) as Array<
        ScheduleRow & { previous_running: number }
      >;
      const recorded: ScheduleFiring[] = [];
      for (const row of rows) {
        const schedule = toSchedule(row);
        const plan = options.plan({ schedule, previousRunning: row.previous_running === 1 });
        for (const occurrenceAt of plan.occurrences) {
          const firing = dueFiring(schedule.id, occurrenceAt, options);
          if (this.insert(firing)) recorded.push(firing);
        }
        this.connection.statement(SQL.advance).run(plan.nextRunAt, options.now, schedule.id);
      }
      return recorded;
    });
  }

  async recordFiring(firing: ScheduleFiring): Promise<boolean> {
    return this.connection.write(
      () => this.connection.statement(SQL.exists).get(firing.scheduleId) !== undefined && this.insert(firing),
    );
  }

  async firings(scheduleId: string): Promise<ScheduleFiring[]> {
    const rows = this.connection.read(() =>
      this.connection.statement(SQL.firings).all(scheduleId),
    ) as FiringRow[];
    return rows.map(toFiring);
  }

  async claimUnstarted(options: ClaimUnstartedOptions): Promise<ScheduleFiring[]> {
    if (options.limit <= 0) return [];
    return this.connection.write(() => {
      const rows = this.connection
        .statement(SQL.unstarted)
        .all(options.firedBefore, options.limit) as FiringRow[];
      return rows.map((row) => {
        const firing = { ...toFiring(row), firedBy: options.engineId, firedAt: options.now };
        this.connection
          .statement(SQL.refire)
          .run(firing.firedBy, firing.firedAt, firing.scheduleId, firing.occurrenceAt);
        return firing;
      });
    });
  }

  /** In the caller's write transaction. */
  private insert(firing: ScheduleFiring): boolean {
    const { changes } = this.connection.statement(SQL.insertFiring).run(...firingValues(firing));
    if (changes === 0) return false;
    this.connection.statement(SQL.setLast).run(firing.workflowId, firing.scheduleId);
    return true;
  }
}
