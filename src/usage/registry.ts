// Which usage format meters a request on a metered route: the route's `metering.format`
// (auto, a family, or one format's name) narrows the formats of src/usage/formats/, and the
// first whose endpoint matches the method and sub-path wins. `metering.paths` lists the
// sub-paths that may be metered at all (default: every endpoint of those formats); a path
// outside it is "unknown" and handled by `metering.unknown`.
import { FORMATS } from './formats';
import { freeEndpoints } from './formats/free';
import { headerFormat } from './formats/header';
import { compilePattern, pathMatcher } from './path-pattern';
import type { UsageFormat } from './types';

export interface MeteringConfig {
  format: string;
  paths?: readonly string[] | undefined;
}

export type Resolution =
  /** The path is listed: meter it with this format (null: no format reads it, full reservation). */
  | { listed: true; format: UsageFormat | null }
  /** The path is not in `metering.paths`. */
  | { listed: false };

interface Compiled {
  candidates: { format: UsageFormat; methods: readonly string[]; re: RegExp }[];
  fallback: UsageFormat | null;
  listed: (subPath: string) => boolean;
}

const FREE = FORMATS.filter((f) => f.free);
const BY_NAME = new Map(FORMATS.map((f) => [f.name, f]));

/** The formats a `metering.format` value selects, and the one used for listed paths none matches. */
function selection(format: string): { formats: readonly UsageFormat[]; fallback: UsageFormat | null } {
  const byName = (name: string) => BY_NAME.get(name) ?? null;
  if (format === 'header') return { formats: [headerFormat], fallback: headerFormat };
  if (format === 'auto') return { formats: FORMATS.filter((f) => f !== headerFormat), fallback: null };
  if (format === 'openai' || format === 'anthropic') {
    const family = FORMATS.filter((f) => f.name.startsWith(`${format}-`));
    return { formats: [...FREE, ...family], fallback: byName(format === 'openai' ? 'openai-chat' : 'anthropic-messages') };
  }
  const one = byName(format);
  return { formats: one ? [...FREE, one] : FREE, fallback: one };
}

/** The default `metering.paths` for a format setting: every endpoint of its formats. */
export function defaultPaths(format: string): string[] {
  return [...new Set(selection(format).formats.flatMap((f) => f.endpoints.map((e) => e.path)))];
}

// Compiled once per route object (routes come from the parsed config, fixed per isolate).
const compiled = new WeakMap<MeteringConfig, Compiled>();

function compile(m: MeteringConfig): Compiled {
  let c = compiled.get(m);
  if (c) return c;
  const { formats, fallback } = selection(m.format);
  c = {
    candidates: formats.flatMap((format) => format.endpoints.map((e) => ({ format, methods: e.methods, re: compilePattern(e.path) }))),
    fallback,
    listed: pathMatcher(m.paths ?? defaultPaths(m.format)),
  };
  compiled.set(m, c);
  return c;
}

export function resolveFormat(m: MeteringConfig, method: string, subPath: string | null): Resolution {
  const c = compile(m);
  if (subPath === null || !c.listed(subPath)) return { listed: false };
  // A CORS preflight generates nothing, whatever the endpoint.
  if (method === 'OPTIONS') return { listed: true, format: freeEndpoints };
  for (const candidate of c.candidates) {
    if (candidate.methods.includes(method) && candidate.re.test(subPath)) return { listed: true, format: candidate.format };
  }
  return { listed: true, format: c.fallback };
}

/** The request path below the route prefix, as received; null when it does not start with it. */
export function subPathOf(routePath: string, rawPath: string): string | null {
  if (routePath === '/') return rawPath;
  if (rawPath === routePath) return '';
  return rawPath.startsWith(`${routePath}/`) ? rawPath.slice(routePath.length) : null;
}
