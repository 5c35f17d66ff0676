/**
 * `npm run bench [-- NAME...]`: runs the benchmark suites and rewrites their
 * sections of docs/benchmarks.md (between `<!-- bench:NAME -->` markers), with
 * the machine they ran on. Not a test: nothing here asserts a threshold.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { machineDescription, sinkResult } from './harness.js';

/** Each suite: a module under bench/ whose default export returns a Markdown section. */
const SUITES: Record<string, string> = {
  phys: './phys.bench.js',
  vmem: './vmem.bench.js',
  zero: './zero.bench.js',
  prezero: './prezero.bench.js',
  lab: './lab.bench.js',
  objects: './objects.bench.js',
  web: './web.bench.js',
  'web-browser': './web-browser.bench.js',
  replay: './replay.bench.js',
  wire: './wire.bench.js',
  kstack: './kstack.bench.js',
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const names = args.length > 0 ? args : Object.keys(SUITES);
  for (const n of names) {
    if (!(n in SUITES)) {
      process.stderr.write(`bench: unknown suite "${n}" (have: ${Object.keys(SUITES).join(', ')})\n`);
      process.exit(2);
    }
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const docPath = path.resolve(here, '../../docs/benchmarks.md');
  let doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Benchmarks\n';
  for (const n of names) {
    let mod: { default: () => Promise<string> };
    try {
      mod = await import(SUITES[n]);
    } catch (e) {
      process.stderr.write(`bench: suite ${n} not available (${(e as Error).message})\n`);
      continue;
    }
    process.stderr.write(`bench: ${n} ...\n`);
    const body = await mod.default();
    const stamp = `_Ran ${new Date().toISOString().slice(0, 10)} on ${machineDescription()}._`;
    const section = `<!-- bench:${n} -->\n${body.trim()}\n\n${stamp}\n<!-- /bench:${n} -->`;
    process.stdout.write(section + '\n\n');
    const re = new RegExp(`<!-- bench:${n} -->[\\s\\S]*?<!-- /bench:${n} -->`);
    doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
    writeFileSync(docPath, doc);
  }
  process.stderr.write(`bench: sink ${sinkResult()}\n`);
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
