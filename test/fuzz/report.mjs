// Turns a failed fast-check run into what a person needs: the broken invariants and a curl
// per request of the (shrunk, so minimal) failing batch.
import { CURL_PREAMBLE, toCurl } from './curl.mjs';
import { InvariantError, violationSignature } from './session.mjs';

/**
 * @param {import('fast-check').RunDetails<[import('./requests.mjs').FuzzRequest[]]>} details
 * @returns {string | null} null when the run passed
 */
export function failureReport(details) {
  if (!details.failed) return null;
  const lines = [`fuzz failure (seed ${details.seed}, path "${details.counterexamplePath}", after ${details.numRuns} runs and ${details.numShrinks} shrinks)`];
  const error = details.errorInstance;
  lines.push(error instanceof Error ? error.message : String(error));
  if (details.counterexample) {
    lines.push('', 'minimal failing batch:', CURL_PREAMBLE);
    for (const req of details.counterexample[0]) lines.push(toCurl(req));
  }
  if (!(error instanceof InvariantError) && error instanceof Error && error.stack) lines.push('', error.stack);
  return lines.join('\n');
}

/**
 * Stable names for what failed (one per broken invariant), so a long run reports each once.
 * @param {import('fast-check').RunDetails<[import('./requests.mjs').FuzzRequest[]]>} details
 */
export function failureSignature(details) {
  const error = details.errorInstance;
  if (error instanceof InvariantError) return error.violations.map(violationSignature);
  return [error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error)];
}
