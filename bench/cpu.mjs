// CPU accounting from /proc (Linux): how busy the machine was during a measurement, and how
// much of that was this bench (this process, its threads and every descendant: workerd,
// redis-server) versus other processes (someone's test run on the same machine). Two cores shared with a test run elsewhere halve
// the throughput of whatever is measured at that moment: the report says when that happened.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const HAVE_PROC = (() => {
  try {
    readFileSync('/proc/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
})();

/** Machine-wide jiffies: [busy, total]. */
function machineTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const total = f.slice(0, 8).reduce((a, b) => a + (b || 0), 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return [total - idle, total];
}

/** @returns {Map<number, { name: string, ppid: number, ticks: number, reaped: number }>} */
function processTable() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const rest = stat.slice(close + 2).split(' ');
    const ppid = Number(rest[1]);
    const ticks = Number(rest[11]) + Number(rest[12]); // utime + stime
    const reaped = Number(rest[13]) + Number(rest[14]); // cutime + cstime: children that exited
    out.set(Number(name), { name: comm, ppid, ticks, reaped });
  }
  return out;
}

/** The pids of this process and all its live descendants. */
function ownPids(table) {
  const mine = new Set();
  const queue = [process.pid];
  while (queue.length) {
    const pid = /** @type {number} */ (queue.pop());
    if (mine.has(pid) || !table.has(pid)) continue;
    mine.add(pid);
    for (const [child, e] of table) if (e.ppid === pid) queue.push(child);
  }
  return mine;
}

/**
 * Starts a measurement; `stop()` returns shares of the whole machine (1 = every core busy):
 * `own` is this bench's processes, `other` every other process (including children they
 * reaped meanwhile). Kernel time no process is charged for (loopback networking in softirq,
 * mostly caused by the bench's own traffic) is in `busy` only.
 */
export function cpuMeter() {
  if (!HAVE_PROC) return { stop: () => null };
  const [busy0, total0] = machineTicks();
  const t0 = processTable();
  const started = performance.now();
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      const [busy1, total1] = machineTicks();
      const t1 = processTable();
      const mine = ownPids(t1);
      let own = 0;
      let other = 0;
      /** @type {Record<string, number>} ticks by process name (node, workerd, redis-server) */
      const ownByName = {};
      for (const [pid, e] of t1) {
        const before = t0.get(pid);
        if (!before) continue;
        if (mine.has(pid)) {
          own += e.ticks - before.ticks;
          ownByName[e.name] = (ownByName[e.name] ?? 0) + e.ticks - before.ticks;
        } else other += e.ticks - before.ticks + (e.reaped - before.reaped);
      }
      const total = total1 - total0;
      if (total <= 0) return null;
      const cores = availableParallelism();
      const busy = (busy1 - busy0) / total;
      const ownShare = Math.min(busy, own / total);
      /** @type {Record<string, number>} CPU seconds by process name */
      const cpuSeconds = {};
      for (const [name, t] of Object.entries(ownByName)) cpuSeconds[name] = (t / total) * cores * seconds;
      // Reaped children can be counted twice (alive at the start, then in the parent's total).
      return { busy, own: ownShare, other: Math.max(0, Math.min(busy - ownShare, other / total)), cores, seconds, cpuSeconds };
    },
  };
}

/** Samples the machine for `ms` with the bench idle: how much CPU other processes use. */
export async function backgroundLoad(ms = 1000) {
  const m = cpuMeter();
  await new Promise((r) => setTimeout(r, ms));
  return m.stop();
}
