// Typed context for the Hono app: bindings and the variables each middleware sets.

import type { LoadedConfig } from './config/load';
import type { Env } from './env';
import type { EventVariables } from './events/request-event';
import type { Credential } from './keys/credential';
import type { KeyRecord } from './keys/record';
import type { Services } from './services';

export interface RequestContextVariables {
  requestId: string;
  config: LoadedConfig;
  services: Services;
  /** Server-Timing entries, written onto the response on the way out. */
  timings: string[];
}

export interface AuthVariables {
  key: KeyRecord;
  credential: Credential;
  /** Set on signed requests only: the token id the admission must refuse a second time. */
  replay?: { id: string; expiresAt: number };
}

export interface AdminVariables {
  /** Who is acting, for the audit log: 'admin_token' or the admin key's id. */
  actor: string;
}

export interface AppVariables extends RequestContextVariables, AuthVariables, AdminVariables, EventVariables {}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}
