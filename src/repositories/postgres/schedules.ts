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
import type { PgClient } from './driver.js';
import type { PostgresConnection } from './postgres-connection.js';

const params = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(', ');

/** The statements of a schema (`schema` quoted already). */
function statements(schema: string) {
  const schedules = `${schema}.schedules`;
  const firings = `${schema}.schedule_firings`;
  const columns = SCHEDULE_COLUMNS.map((c) => (c === 'template' ? 's.template::text AS template' : `s.${c}`));
  const set = SCHEDULE_COLUMNS.slice(1).map((c) => `${c} = excluded.${c}`);
  return {
    save:
      `INSERT INTO ${schedules} (${SCHEDULE_COLUMNS.join(', ')}) VALUES (${params(SCHEDULE_COLUMNS.length)})` +
      ` ON CONFLICT (id) DO UPDATE SET ${set.join(', ')}`,
    get: `SELECT ${columns.join(', ')} FROM ${schedules} AS s WHERE s.id = $1`,
    list: `SELECT ${columns.join(', ')} FROM ${schedules} AS s ORDER BY s.id`,
    deleteFirings: `DELETE FROM ${firings} WHERE schedule_id = $1`,
    delete: `DELETE FROM ${schedules} WHERE id = $1`,
    // Due by the engine's clock ($1); a row another engine is claiming is skipped, not waited for.
    due:
      `SELECT ${columns.join(', ')}, coalesce(w.status IN ('PENDING', 'RUNNING', 'PAUSED'), false)` +
      ` AS previous_running FROM ${schedules} AS s LEFT JOIN ${schema}.workflows AS w ON w.id = s.last_workflow_id` +
      ` WHERE NOT s.paused AND s.next_run_at IS NOT NULL AND s.next_run_at <= $1` +
      ` ORDER BY s.next_run_at, s.id LIMIT $2 FOR UPDATE OF s SKIP LOCKED`,
    insertFiring:
      `INSERT INTO ${firings} (${FIRING_COLUMNS.join(', ')}) VALUES (${params(FIRING_COLUMNS.length)})` +
      ` ON CONFLICT DO NOTHING`,
    setLast: `UPDATE ${schedules} SET last_workflow_id = $1 WHERE id = $2`,
    advance: `UPDATE ${schedules} SET next_run_at = $1, updated_at = $2 WHERE id = $3`,
    lock: `SELECT 1 FROM ${schedules} WHERE id = $1 FOR UPDATE`,
    firings: `SELECT ${FIRING_COLUMNS.join(', ')} FROM ${firings} WHERE schedule_id = $1 ORDER BY occurrence_at`,
    // Firings whose workflow was never stored; a row another engine is taking is skipped.
    claimUnstarted:
      `UPDATE ${firings} AS f SET fired_by = $3, fired_at = $4 FROM (SELECT u.schedule_id, u.occurrence_at` +
      ` FROM ${firings} AS u WHERE u.fired_at <= $1 AND NOT EXISTS` +
      ` (SELECT 1 FROM ${schema}.workflows AS w WHERE w.id = u.workflow_id)` +
      ` ORDER BY u.fired_at, u.schedule_id LIMIT $2 FOR UPDATE SKIP LOCKED) AS t` +
      ` WHERE f.schedule_id = t.schedule_id AND f.occurrence_at = t.occurrence_at` +
      ` RETURNING ${FIRING_COLUMNS.map((c) => `f.${c}`).join(', ')}`,
  };
}

/** Schedules on PostgreSQL (migration 10): claims lock due rows `FOR UPDATE SKIP LOCKED`. */
export class PostgresSchedules implements ScheduleStore {
  private sqlCache: ReturnType<typeof statements> | undefined;

  constructor(
    private readonly connection: PostgresConnection,
    private readonly schema: () => string,
  ) {}

  private get sql() {
    return (this.sqlCache ??= statements(this.schema()));
  }

  async save(schedule: Schedule): Promise<void> {
    await this.connection.query(
      this.sql.save,
      scheduleValues(schedule, (value) => value),
    );
  }

  async get(id: string): Promise<Schedule | undefined> {
    const { rows } = await this.connection.query(this.sql.get, [id]);
    const row = rows[0] as ScheduleRow | undefined;
    return row && toSchedule(row);
  }

  async list(): Promise<Schedule[]> {
    const { rows } = await this.connection.query(this.sql.list);
    return (rows as ScheduleRow[]).map(toSchedule);
  }

  async delete(id: string): Promise<boolean> {
    return this.connection.transaction(async (client) => {
      await client.query(this.sql.deleteFirings, [id]);
      const result = await client.query(this.sql.delete, [id]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  async claimDue(options: ClaimDueOptions): Promise<ScheduleFiring[]> {
    if (options.limit <= 0) return [];
    return this.connection.transaction(async (client) => {
      const { rows } = await client.query(this.sql.due, [options.now, options.limit]);
      const recorded: ScheduleFiring[] = [];
      for (const row of rows as Array<ScheduleRow & { previous_running: boolean }>) {
        const schedule = toSchedule(row);
        const plan = options.plan({ schedule, previousRunning: row.previous_running });
        for (const occurrenceAt of plan.occurrences) {
          const firing = dueFiring(schedule.id, occurrenceAt, options);
          if (await this.insert(client, firing)) recorded.push(firing);
        }
        await client.query(this.sql.advance, [plan.nextRunAt, options.now, schedule.id]);
      }
      return recorded;
    });
  }

  async recordFiring(firing: ScheduleFiring): Promise<boolean> {
    return this.connection.transaction(async (client) => {
      const { rows } = await client.query(this.sql.lock, [firing.scheduleId]);
      return rows.length > 0 && this.insert(client, firing);
    });
  }

  async firings(scheduleId: string): Promise<ScheduleFiring[]> {
    const { rows } = await this.connection.query(this.sql.firings, [scheduleId]);
    return (rows as FiringRow[]).map(toFiring);
  }

  async claimUnstarted(options: ClaimUnstartedOptions): Promise<ScheduleFiring[]> {
    if (options.limit <= 0) return [];
    const { rows } = await this.connection.query(this.sql.claimUnstarted, [
      options.firedBefore,
      options.limit,
      options.engineId,
      options.now,
    ]);
    return (rows as FiringRow[]).map(toFiring).sort((a, b) => a.occurrenceAt - b.occurrenceAt);
  }

  private async insert(client: PgClient, firing: ScheduleFiring): Promise<boolean> {
    const result = await client.query(this.sql.insertFiring, firingValues(firing));
    if ((result.rowCount ?? 0) === 0) return false;
    await client.query(this.sql.setLast, [firing.workflowId, firing.scheduleId]);
    return true;
  }
}
