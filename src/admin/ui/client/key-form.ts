// Reads the create and rotate forms into API bodies; a bad field throws a client-side
// ApiError (code invalid_input) that the dialog shows like a server error.

import { clientError } from './api';

/** A whole number >= 0 from field `name`, or undefined when it is empty. */
export function intField(fd: FormData, name: string, label: string): number | undefined {
  const s = String(fd.get(name) || '').trim();
  if (!s) return undefined;
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v < 0) throw clientError(label + ' must be a whole number.');
  return v;
}

export interface CreateKeyBody {
  name: string;
  type: string;
  scopes: string[];
  tags: string[];
  owner?: string;
  expires_at?: string;
  ttl_seconds?: number;
  limits?: Partial<Record<LimitField, number>>;
  budget?: { usd: number; period: string };
}

type LimitField = 'rpm' | 'rpd' | 'tpm' | 'tpd';
const LIMIT_FIELDS: [LimitField, string][] = [['rpm', 'Requests / min'], ['rpd', 'Requests / day'], ['tpm', 'Tokens / min'], ['tpd', 'Tokens / day']];

/** The create dialog's fields as a POST /admin/keys body (empty optional fields left out). */
export function createBody(fd: FormData): CreateKeyBody {
  const str = (name: string) => String(fd.get(name) || '').trim();
  const list = (name: string) => str(name).split(/[\s,]+/).filter(Boolean);
  const body: CreateKeyBody = { name: str('name'), type: str('type') || 'user', scopes: list('scopes'), tags: list('tags') };
  const owner = str('owner');
  if (owner) body.owner = owner;
  const expires = str('expires_at');
  const ttl = intField(fd, 'ttl_seconds', 'TTL');
  if (expires && ttl !== undefined) throw clientError('Give an expiry date or a TTL, not both.');
  if (expires) {
    const d = new Date(expires);
    if (isNaN(d.getTime())) throw clientError('The expiry date is not valid.');
    body.expires_at = d.toISOString();
  }
  if (ttl !== undefined) body.ttl_seconds = ttl;
  const limits: Partial<Record<LimitField, number>> = {};
  for (const [name, label] of LIMIT_FIELDS) {
    const v = intField(fd, name, label);
    if (v !== undefined) limits[name] = v;
  }
  if (Object.keys(limits).length) body.limits = limits;
  const usd = str('budget_usd');
  if (usd) {
    const v = Number(usd);
    if (!Number.isFinite(v) || v < 0) throw clientError('Budget USD must be a number >= 0.');
    body.budget = { usd: v, period: str('budget_period') || 'day' };
  }
  return body;
}
