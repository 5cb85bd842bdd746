// A read-only static web server for `<stateDir>/html/` (behavior.md §5.3 "Serving"): GET and HEAD
// only, no directory listing, nothing outside the directory (no `..`, no symlink escape, no
// dotfiles such as the atomic writer's temp files), `index.html` for a directory.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

export interface StaticSiteOptions {
  readonly dir: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string | undefined;
}

export interface StaticSite {
  /** `http://<host>:<port>/` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.csv': 'text/csv; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.prom': 'text/plain; version=0.0.4; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
  'Content-Security-Policy':
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
  'Referrer-Policy': 'no-referrer',
};

function send(res: ServerResponse, status: number, body: string, head: boolean): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}

/**
 * The file a request path names inside `root` (both real paths), or a status code to answer.
 * Refuses encoded separators, NUL, `..` and dot segments, and anything resolving outside root.
 */
export async function resolveRequestPath(
  root: string,
  rawUrl: string,
): Promise<{ file: string } | { status: 400 | 404 }> {
  const pathPart = rawUrl.split('?')[0]?.split('#')[0] ?? '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathPart);
  } catch {
    return { status: 400 };
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) {
    return { status: 400 };
  }
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s.startsWith('.'))) return { status: 404 };
  let candidate = join(root, ...segments);
  try {
    if ((await stat(candidate)).isDirectory()) candidate = join(candidate, 'index.html');
    const real = await realpath(candidate);
    if (real !== root && !real.startsWith(root + sep)) return { status: 404 };
    if (!(await stat(real)).isFile()) return { status: 404 };
    return { file: real };
  } catch {
    return { status: 404 };
  }
}

async function handle(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'Method Not Allowed\n', false);
    return;
  }
  let root_: string;
  try {
    root_ = await realpath(root);
  } catch {
    send(res, 404, 'Not Found (no page has been written yet)\n', head);
    return;
  }
  const target = await resolveRequestPath(root_, req.url ?? '/');
  if ('status' in target) {
    send(res, target.status, target.status === 400 ? 'Bad Request\n' : 'Not Found\n', head);
    return;
  }
  let size: number;
  try {
    size = (await stat(target.file)).size;
  } catch {
    send(res, 404, 'Not Found\n', head);
    return;
  }
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': contentTypeOf(target.file),
    'Content-Length': size,
  });
  if (head) {
    res.end();
    return;
  }
  const stream = createReadStream(target.file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** Serves `dir` read-only until `close()`. Rejects when the address cannot be bound. */
export async function startStaticSite(opts: StaticSiteOptions): Promise<StaticSite> {
  const root = resolve(opts.dir);
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    handle(root, req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'Internal Server Error\n', false);
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.close((err) => (err ? fail(err) : ok()));
        server.closeAllConnections();
      }),
  };
}
