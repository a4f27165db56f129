// The shapes the page reads from the /admin API, only the fields it uses. The server's zod
// schemas (src/admin/schemas.ts and the analytics/logs routes) are the truth.

/** The fields of the API's `Key` (src/admin/schemas.ts, KeySchema) the page shows. */
export interface KeyRecord {
  id: string;
  name: string;
  description: string;
  display: string;
  owner: string | null;
  type: string;
  status: 'active' | 'inactive' | 'revoked' | 'expired';
  is_active: boolean;
  scopes: string[];
  tags: string[];
  expires_at: string | null;
  last_used_at: string | null;
  rotated_to: string | null;
  revoked_reason: string | null;
}

export interface KeyList {
  keys: KeyRecord[];
  next_cursor: string | null;
}

/** POST /keys: the record and the plaintext, shown once. */
export interface CreatedKey extends KeyRecord {
  key: string;
  /** The key's signing secret, when it has one (a rotated key's successor). */
  signing_secret?: string;
}

/** POST /keys/{id}/rotate. */
export interface RotatedKey extends CreatedKey {
  previous: KeyRecord;
  replayed?: boolean;
}

export interface UsageWindow {
  name: string;
  kind: string;
  used: number;
  limit: number;
  remaining: number;
  window_seconds: number;
  reset: string;
}

export interface UsageBudget {
  period: string;
  usd: number;
  spent_usd: number;
  remaining_usd: number;
  reset: string | null;
}

/** A key's credit balance (keys with credits only). */
export interface UsageCredits {
  remaining: number;
  refill_at: string | null;
}

/** GET /keys/{id}/usage; GET /owners/{owner}/usage has the same shape, without credits. */
export interface KeyUsage {
  store: string;
  windows?: UsageWindow[];
  budget?: UsageBudget | null;
  credits?: UsageCredits | null;
}

export interface AnalyticsPoint {
  t: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export interface TopKey {
  key_id: string;
  requests: number;
  cost_usd: number;
}

export interface Analytics {
  series: AnalyticsPoint[];
  top: TopKey[];
}

export interface LogEntry {
  at: string;
  status: number;
  outcome: string;
  method: string;
  path: string;
  latency_ms: { total: number | null } | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: number | null;
}

export interface LogPage {
  entries: LogEntry[];
}

/** The body of an error response: `{"error": {...}}`. */
export interface ApiErrorBody {
  code?: unknown;
  message?: unknown;
  request_id?: unknown;
  details?: unknown;
}
