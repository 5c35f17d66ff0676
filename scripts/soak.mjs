/*
 * `npm run soak`: every property test of dist/test with PAGELAB_PROP_SCALE
 * times its usual runs (default 20), one file at a time. Not part of
 * `npm test`: a long run, to find rare failing seeds before CI does.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/test');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.js') && readFileSync(path.join(dir, f), 'utf8').includes('fc.assert'))
  .map((f) => path.join(dir, f));
const scale = process.env.PAGELAB_PROP_SCALE || '20';
process.stderr.write(`soak: ${files.length} test files with property tests, PAGELAB_PROP_SCALE=${scale}\n`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env: { ...process.env, PAGELAB_PROP_SCALE: scale } });
process.exit(r.status ?? 1);
