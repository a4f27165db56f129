// Typed context for the Hono app: bindings and the variables each middleware sets.

import type { LoadedConfig } from './config/load';
import type { Route } from './config/schema';
import type { Env } from './env';
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

export interface RouteVariables {
  route: Route;
}

export interface AuthVariables {
  key: KeyRecord;
  credential: Credential;
}

export interface ForwardVariables {
  /** A body already read (metered routes); otherwise the request body streams through. */
  forwardBody: string | undefined;
  /** Wraps the upstream response (token metering); identity when unset. */
  onUpstreamResponse: ((response: Response) => Response) | undefined;
}

export interface AdminVariables {
  /** Who is acting, for the audit log: 'admin_token' or the admin key's id. */
  actor: string;
}

export interface AppVariables extends RequestContextVariables, RouteVariables, AuthVariables, ForwardVariables, AdminVariables {}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}
