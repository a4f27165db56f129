// Any upstream that states the units a request consumed in a response header
// (`metering = { format = "header", header = "x-usage-units" }`). The header holds a
// non-negative integer; anything else is no usage reported.
import { tokenCount } from '../fields';
import type { UsageFormat } from '../types';

export const headerFormat: UsageFormat = {
  name: 'header',
  limitHeaders: 'standard',
  endpoints: [{ methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], path: '/**' }],
  headerUsage(headers, name) {
    const raw = headers.get(name)?.trim() ?? '';
    const units = /^\d{1,15}$/.test(raw) ? tokenCount(Number(raw)) : null;
    return units === null ? null : { input: units, output: 0 };
  },
};
