/**
 * `pagelab web [TRACE] [machine options] [-o name=value]... [--port N] [--no-open] [--reports DIR]`:
 * serves the web page (built into dist/web) on 127.0.0.1 with the trace and
 * machine preloaded, until Ctrl-C. And the page as one self-contained file,
 * for `pagelab replay TRACE --html FILE`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, normalize, resolve, sep } from 'node:path';
import { PagelabError } from '../errors.js';
import { parseTrace, TRACE_MAX_BYTES } from '../lab/replay.js';
import { memoryMapToJson, resolveMachine } from '../machine/index.js';
import { readTextBounded, STDIN } from '../util/read-bounded.js';
import type { Preload } from '../web/preload.js';
import { parseArgs, type Parsed } from './args.js';

/** The package root (dist/src/cli/web.js is three levels down). */
const ROOT = new URL('../../../', import.meta.url);
const pkgPath = (...parts: string[]): string => join(decodeURIComponent(ROOT.pathname), ...parts);

/* Reads a trace file ('-': standard input), at most replay's TRACE_MAX_BYTES; one error naming the file when it cannot. */
export function readTraceFile(file: string, command: string): string {
  return readTextBounded(file === '-' ? STDIN : file, { maxBytes: TRACE_MAX_BYTES, label: file === '-' ? `${command}: standard input` : `${command}: ${file}`, what: 'a trace' });
}

/* The bundled example traces (examples/traces/*.trace), by file name. */
export function exampleTraces(): Array<{ name: string; text: string }> {
  const dir = pkgPath('examples', 'traces');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.trace'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

/*
 * The preload for a command line: the trace (validated now, so a bad one is
 * an error before anything is served), the machine options resolved to a
 * map, the -o options, the examples. Requires a Parsed with at most one
 * positional (the trace).
 */
export function preloadFor(a: Parsed, command: string, traceFile: string | undefined): Preload {
  const preload: Preload = { examples: exampleTraces(), overrides: a.tunables };
  if (traceFile !== undefined) {
    const text = readTraceFile(traceFile, command);
    parseTrace(text, traceFile);
    preload.trace = { name: traceFile.split(/[\\/]/).pop() ?? traceFile, text };
  }
  if (a.machineGiven) preload.machine = memoryMapToJson(resolveMachine(a.machine));
  return preload;
}

/** The built page's files; EHOST when the package was installed without building it. */
function pageAsset(name: 'index.html' | 'app.js' | 'style.css' | 'zeroidle-worker.js'): string {
  const p = pkgPath('dist', 'web', name);
  try {
    return readFileSync(p, 'utf8');
  } catch {
    throw new PagelabError('EHOST', `the web page is not built (${p} is missing); run npm run build`);
  }
}

/* JSON that may sit inside a <script> element: no "</script", no "<!--". */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

/*
 * index.html with `preload` embedded; `inline` also puts the CSS and the
 * script in the file, so it works alone from a file:// URL.
 */
export function pageHtml(preload: Preload, inline: boolean): string {
  let html = pageAsset('index.html').replace(
    '<!--PAGELAB-PRELOAD-->',
    () => `<script type="application/json" id="pagelab-preload">${scriptJson(preload)}</script>`,
  );
  if (inline) {
    const css = pageAsset('style.css').replace(/<\/style/gi, '<\\/style');
    const js = pageAsset('app.js').replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
    html = html
      .replace(/<!--PAGELAB-STYLE-->[\s\S]*?<!--\/PAGELAB-STYLE-->/, () => `<style>${css}</style>`)
      .replace(/<!--PAGELAB-SCRIPT-->[\s\S]*?<!--\/PAGELAB-SCRIPT-->/, () => `<script type="module">${js}</script>`);
  }
  return html;
}

/** Headers on every response: cross-origin isolation (SharedArrayBuffer), no caching, no sniffing. */
const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

/* A file under `dir` named by a URL path, or null when it escapes `dir` or is not a file. */
function fileUnder(dir: string, urlPath: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const p = normalize(join(dir, rel));
  if (p !== dir && !p.startsWith(dir + sep)) return null;
  try {
    return statSync(p).isFile() ? p : null;
  } catch {
    return null;
  }
}

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/*
 * Starts the server on 127.0.0.1:`port` (0: a free port). Routes: / the page
 * with `preload`, /app.js, /style.css, /zeroidle-worker.js (the zeroing
 * engine's Web Worker), /reports/... files of `reportsDir`.
 */
export function startWebServer(preload: Preload, port: number, reportsDir?: string): Promise<WebServer> {
  const index = pageHtml(preload, false);
  const assets: Record<string, [string, string]> = {
    '/': [index, TYPES['.html']],
    '/index.html': [index, TYPES['.html']],
    '/app.js': [pageAsset('app.js'), TYPES['.js']],
    '/style.css': [pageAsset('style.css'), TYPES['.css']],
    '/zeroidle-worker.js': [pageAsset('zeroidle-worker.js'), TYPES['.js']],
  };
  const reports = reportsDir === undefined ? undefined : resolve(reportsDir);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const send = (status: number, body: string | Buffer, type = TYPES['.txt']): void => {
      res.writeHead(status, { ...HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'only GET and HEAD\n');
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const asset = assets[path];
    if (asset !== undefined) return send(200, asset[0], asset[1]);
    if (reports !== undefined && path.startsWith('/reports/')) {
      const f = fileUnder(reports, path.slice('/reports/'.length));
      if (f !== null) return send(200, readFileSync(f), TYPES[f.slice(f.lastIndexOf('.'))] ?? 'application/octet-stream');
    }
    send(404, 'not found\n');
  };
  const server = createServer(handler);
  return new Promise((resolvePromise, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new PagelabError('EHOST', `web: cannot listen on 127.0.0.1:${port}: ${e.code ?? e.message}`)));
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      const p = typeof addr === 'object' && addr !== null ? addr.port : port;
      resolvePromise({
        url: `http://127.0.0.1:${p}/`,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/* Opens `url` in the desktop's browser; a failure is only a hint on stderr. */
function openBrowser(url: string, err: (s: string) => void): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => err(`web: could not start ${cmd}; open ${url} yourself\n`));
    child.unref();
  } catch {
    err(`web: could not start ${cmd}; open ${url} yourself\n`);
  }
}

export async function webCommand(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const a = parseArgs(argv, ['--no-open'], 'web', { values: ['--port', '--reports'] });
  if (a.positional.length > 1) throw new PagelabError('EUSAGE', `web: expected at most one TRACE file, got ${a.positional.length}`);
  const portText = a.values.get('--port') ?? '0';
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) throw new PagelabError('EUSAGE', `web: --port ${portText} is not a port number (0..65535; 0 picks a free one)`);
  const reports = a.values.get('--reports');
  if (reports !== undefined && !existsSync(reports)) throw new PagelabError('EUSAGE', `web: --reports ${reports} does not exist`);
  const preload = preloadFor(a, 'web', a.positional[0]);
  if (reports !== undefined) {
    preload.reports = readdirSync(reports)
      .filter((f) => /\.(html|json|svg)$/.test(f))
      .sort()
      .map((f) => ({ label: f, href: `reports/${encodeURIComponent(f)}` }));
  }
  const server = await startWebServer(preload, Number(portText), reports);
  out(`pagelab web: serving ${preload.trace?.name ?? 'the examples'} on ${server.url} (Ctrl-C stops)\n`);
  if (!a.flags.has('--no-open')) openBrowser(server.url, err);
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  out('pagelab web: stopped\n');
  return 0;
}
