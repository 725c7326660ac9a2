import { readFileSync } from 'node:fs';
import { withPg } from '../services.js';

/**
 * The CPU time (ms) the server's backends of `application` have used so far, by pid: PostgreSQL
 * runs on this machine, so /proc tells (user + system, in clock ticks of 10 ms). For the events
 * cost tools (events-cost.ts, events-store-cost.ts).
 */
export async function serverCpu(application: string): Promise<Map<number, number>> {
  const { rows } = await withPg((client) =>
    client.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [application]),
  );
  const used = new Map<number, number>();
  for (const { pid } of rows as Array<{ pid: number }>) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      used.set(pid, (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // The backend ended meanwhile.
    }
  }
  return used;
}
