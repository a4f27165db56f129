// Turns zod validation failures into the one error shape: 400 validation_failed naming
// every failing field (immutable fields in PATCH get their own message).

import type { ZodError } from 'zod';
import { GatewayError } from '../errors';
import { IMMUTABLE_FIELDS } from './schemas';

const IMMUTABLE = new Set<string>(IMMUTABLE_FIELDS);

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out || '(body)';
}

export function validationError(error: ZodError, target: string): GatewayError {
  const details: { path: string; message: string }[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        const path = pathOf([...issue.path, k]);
        details.push({ path, message: IMMUTABLE.has(k) ? 'is immutable' : 'is not a known field' });
      }
    } else {
      details.push({ path: target === 'json' ? pathOf(issue.path) : `${target}.${pathOf(issue.path)}`, message: issue.message });
    }
  }
  const fields = [...new Set(details.map((d) => d.path))].join(', ');
  return new GatewayError('validation_failed', `Invalid ${target === 'json' ? 'body' : target}: ${fields}`, { details });
}
