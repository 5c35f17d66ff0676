// Builds the web page (src/web) into dist/web: one ES module bundle of the
// page and the VM, with the browser host adapter in place of the Node one,
// and the page's HTML and CSS beside it. Run by `npm run build`, `prepare`
// (so `npm install` and `npm ci` build it, as they build the CLI) and `npm test`.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');

/** Every import of host/node.js becomes host/browser.ts; any other Node module is an error. */
const browserHost = {
  name: 'pagelab-browser-host',
  setup(b) {
    b.onResolve({ filter: /(^|\/)host\/node\.js$/ }, () => ({ path: join(root, 'src', 'host', 'browser.ts') }));
    b.onResolve({ filter: /^node:/ }, (args) => ({
      errors: [{ text: `${args.path} (imported by ${args.importer}) cannot run in a browser: reach it through src/host` }],
    }));
  },
};

mkdirSync(out, { recursive: true });
// The page, and the zeroing engine's Web Worker beside it (the engine loads
// ./zeroidle-worker.js relative to the page's script, as on Node).
await build({
  entryPoints: { app: join(root, 'src', 'web', 'main.ts'), 'zeroidle-worker': join(root, 'src', 'web', 'zeroidle-worker.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [browserHost],
  // Node's globals are not a browser's: a reference to one is a build error, not a page that dies on load.
  define: { Buffer: '__pagelab_no_Buffer_in_the_browser__', process: '__pagelab_no_process_in_the_browser__' },
});
for (const f of ['app.js', 'zeroidle-worker.js']) {
  const bundle = readFileSync(join(out, f), 'utf8');
  for (const g of ['Buffer', 'process']) {
    if (bundle.includes(`__pagelab_no_${g}_in_the_browser__`)) {
      throw new Error(`build-web: ${f} uses Node's global ${g}, which browsers do not have; reach it through src/host`);
    }
  }
}
for (const f of ['index.html', 'style.css']) copyFileSync(join(root, 'src', 'web', f), join(out, f));
