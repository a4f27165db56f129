// How the page prints dates, durations, counts and money.

import type { KeyRecord } from './types';

export const DASH = '\u2014';

/** An ISO time as `YYYY-MM-DD HH:MM` (UTC), or `none` when there is none. */
export function fmtDate(iso: string | null | undefined, none?: string): string {
  if (!iso) return none || DASH;
  const d = new Date(iso);
  return isNaN(d.getTime()) ? String(iso) : d.toISOString().slice(0, 16).replace('T', ' ');
}

/** How long until `iso`: "in 5 min". */
export function fmtIn(iso: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return String(iso);
  const s = Math.round((d.getTime() - Date.now()) / 1000);
  if (s <= 0) return 'now';
  if (s < 120) return 'in ' + s + ' s';
  if (s < 7200) return 'in ' + Math.round(s / 60) + ' min';
  if (s < 172800) return 'in ' + Math.round(s / 3600) + ' h';
  return 'in ' + Math.round(s / 86400) + ' days';
}

const WINDOW_NAMES = new Map([[1, 'second'], [60, 'minute'], [3600, 'hour'], [86400, 'day']]);

export function fmtWindow(seconds: number): string {
  return WINDOW_NAMES.get(seconds) ?? seconds + ' s';
}

export const fmtNum = (n: number): string => Number(n).toLocaleString('en-US');
export const fmtUsd = (n: number): string => '$' + Number(n).toFixed(n > 0 && n < 0.01 ? 4 : 2);

/** A key as the dialogs name it: "name — display (id)". */
export const describe = (k: KeyRecord): string => (k.name || '(unnamed)') + ' ' + DASH + ' ' + k.display + ' (' + k.id + ')';
