import assert from 'node:assert/strict';
import { PagelabError } from '../../src/errors.js';

/* Runs `fn`, which must throw a PagelabError; returns "CODE: message" for matching. */
export function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PagelabError, `not a PagelabError: ${String(e)}`);
    return `${e.code}: ${e.message}`;
  }
  assert.fail('did not throw');
}
