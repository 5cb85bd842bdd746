// The sandbox Mac: an in-process ssh2 server that runs exec requests with real bash in a
// temporary root, a fake IMDSv2 endpoint, and stand-ins for the macOS tools on PATH.
// It lets the on-instance scripts of src/mac run on Linux, exactly as the manager sends them.
//
// Layout of one sandbox (mkdtemp): <base>/root is the Mac's file system as the scripts see it
// (PW_POOL_ROOT), <base>/bin the stand-ins (first on PATH), <base>/lib files the stand-ins copy
// (the cirrus binary that `brew install` puts in place), <base>/state what the stand-ins record.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import {
  chmod,
  close as closeFdCb,
  fchmod,
  fstat,
  lstat,
  mkdir,
  open as openCb,
  read as readCb,
  write as writeCb,
} from 'node:fs';
import {
  chmod as chmodP,
  lstat as lstatP,
  mkdir as mkdirP,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  rmdir,
  stat as statP,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import type { Attributes, Connection, ParsedKey, ServerChannel, SFTPWrapper } from 'ssh2';
import { generateEd25519KeyPair } from '../../src/sim/index.js';

const { Server, utils } = ssh2;
const { STATUS_CODE } = utils.sftp;

const STAND_IN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'stand-ins');

/** Tools the sandbox puts on PATH (each is common.sh + <tool>.sh; pgrep/pkill share procs.sh). */
const PATH_TOOLS = [
  'sudo',
  'su',
  'mv',
  'id',
  'install',
  'chown',
  'hostname',
  'uname',
  'scutil',
  'sysadminctl',
  'diskutil',
  'mount',
  'mdutil',
  'arch',
  'defaults',
  'shutdown',
  'wall',
  'pgrep',
  'pkill',
] as const;

export interface SandboxMacOptions {
  /** The instance's Name tag, e.g. `MacM1-1`. */
  name: string;
  /** Instance tags served by the fake IMDS. Default: `{ Name: name, PWPoolReady: 'true' }`. */
  tags?: Record<string, string>;
  /** PW_POOL_POLL_SECONDS and PW_POOL_SHUTDOWN_POLL_SECONDS for every command (default 1). */
  pollSeconds?: number;
  /** Extra environment for every exec request (sandbox-only knobs, PW_POOL_*). */
  env?: Record<string, string>;
  /** The login user the SSH server accepts (default `ec2-user`). */
  user?: string;
  /** The hostname before setup (default `ip-172-31-16-10.ec2.internal`). */
  hostname?: string;
  /**
   * Extra GET routes of the sandbox's HTTP server (the one at `imdsUrl`), e.g. a fake GitHub
   * release API and runner tarball; point the sandbox-only URL knobs at them through `env`.
   */
  httpRoutes?: Record<string, { status?: number; body: string | Buffer }>;
}

export interface ExecRecord {
  command: string;
  env: Record<string, string>;
}

export interface StandInCall {
  tool: string;
  user: string;
  argv: string[];
  stdin?: string;
}

export interface SandboxFile {
  /** The path as the Mac sees it, e.g. `/Users/ec2-user/.pw-pool`. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  size: number;
  /** `user:group` recorded by the install/chown stand-ins, if any. */
  owner?: string;
}

export interface SandboxProcess {
  pid: number;
  ppid: number;
  /** The user sudo/su recorded (PW_SANDBOX_USER), `ec2-user` otherwise. */
  user: string;
  /** argv joined with spaces, as pgrep -f sees it. */
  cmdline: string;
  /** Raw /proc/<pid>/cmdline and /proc/<pid>/environ (NUL separated). */
  rawCmdline: string;
  rawEnviron: string;
}

export type CirrusCommand =
  | { tasks: number }
  | { startTask: true }
  | { finishTask: number }
  | { line: string }
  | { job: 'start' | 'stop' };

export interface ImdsRequest {
  method: string;
  path: string;
  status: number;
}

export interface SandboxMac {
  host: '127.0.0.1';
  port: number;
  /** The host key, generated at start: `public` is the OpenSSH line, `parsed` for comparisons. */
  hostKey: { public: string; private: string; parsed: ParsedKey };
  /** <base>/root: what the scripts see as `/` (PW_POOL_ROOT). */
  root: string;
  /** The login directory on the host side (<root>/Users/ec2-user). */
  home: string;
  imdsUrl: string;
  /** Host path of a Mac path (`/Users/ec2-user/x` → `<root>/Users/ec2-user/x`). */
  hostPath(macPath: string): string;
  /** Every exec request received, in order, with the environment it ran with. */
  commands(): ExecRecord[];
  /** Set (or, with undefined, remove) an instance tag; IMDS answers with it at once. */
  setTag(key: string, value: string | undefined): void;
  imds: {
    requests(): ImdsRequest[];
    /** Forget every issued token: the next tag read gets a 401. */
    expireTokens(): void;
    /** Answer the next `count` tag reads with `status` (e.g. 500). */
    failTagReads(count: number, status: number): void;
  };
  standInLog(): Promise<StandInCall[]>;
  files(): Promise<SandboxFile[]>;
  file(macPath: string): Promise<SandboxFile | undefined>;
  readText(macPath: string): Promise<string | undefined>;
  /** Processes started in the sandbox (found by PW_POOL_ROOT=<root> in their environment). */
  processes(): Promise<SandboxProcess[]>;
  /** Queue commands for the running cirrus stand-in (it polls every 100 ms). */
  cirrus(commands: CirrusCommand[]): Promise<void>;
  /**
   * Run a command directly (not over SSH, not recorded) as ec2-user with the sandbox's exec
   * environment, for tests that arrange or inspect state. Waits for it to exit.
   */
  shell(command: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Names of the users the sandbox knows (root, ec2-user and those sysadminctl added). */
  users(): Promise<string[]>;
  /** Kill every sandbox process, close both servers and delete the sandbox. */
  close(): Promise<void>;
}

const EC2_MAC_PATHS = [
  '/usr/local/bin',
  '/System/Cryptexes/App/usr/bin',
  '/usr/bin',
  '/bin',
  '/usr/sbin',
  '/sbin',
];

const CIRRUS_JOB_SCRIPT = `#!/bin/bash
# A CI task's agent process (cirrus-<ver>-darwin-arm64 agent ...): runs until it is killed.
trap 'exit 0' TERM INT
while :; do
  sleep 1 &
  wait $!
done
`;

/** Start a sandbox Mac. Always `close()` it (in `after`/`finally`): nothing may outlive a test. */
export async function startSandboxMac(opts: SandboxMacOptions): Promise<SandboxMac> {
  const base = await mkdtemp(join(tmpdir(), 'pw-sandbox-'));
  const root = join(base, 'root');
  const state = join(base, 'state');
  const bin = join(base, 'bin');
  const lib = join(base, 'lib');
  const loginUser = opts.user ?? 'ec2-user';
  const home = join(root, 'Users', 'ec2-user');
  const hostPath = (macPath: string): string => join(root, posix.resolve('/', macPath));

  try {
    await buildTree({ base, root, state, bin, lib, home, hostname: opts.hostname });
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }

  const imds = await startImds(
    opts.tags ?? { Name: opts.name, PWPoolReady: 'true' },
    opts.httpRoutes ?? {},
  );
  const hostKeyPair = generateEd25519KeyPair();
  const parsedHostKey = utils.parseKey(hostKeyPair.public);
  if (parsedHostKey instanceof Error) throw parsedHostKey;

  const poll = String(opts.pollSeconds ?? 1);
  const execEnv: Record<string, string> = {
    HOME: home,
    USER: 'ec2-user',
    LOGNAME: 'ec2-user',
    SHELL: '/bin/zsh',
    PATH: `${bin}:/usr/bin:/bin`,
    PW_POOL_ROOT: root,
    PW_POOL_IMDS_URL: imds.url,
    PW_POOL_POLL_SECONDS: poll,
    PW_POOL_SHUTDOWN_POLL_SECONDS: poll,
    PW_POOL_GVPROXY_URL: `${imds.url}/downloads/gvproxy-darwin`,
    // github-actions: the release API (<url>/v<version>) and the download base
    // (<url>/v<version>/actions-runner-osx-arm64-<version>.tar.gz), served from httpRoutes.
    PW_POOL_GHA_RELEASE_API_URL: `${imds.url}/gh/api`,
    PW_POOL_GHA_DOWNLOAD_URL: `${imds.url}/gh/dl`,
    ...opts.env,
  };

  const records: ExecRecord[] = [];
  const children = new Set<ChildProcess>();
  const connections = new Set<Connection>();
  let closed = false;

  const server = new Server({ hostKeys: [hostKeyPair.private] }, (client) => {
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', () => connections.delete(client));
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || ctx.username !== loginUser) {
        ctx.reject(['publickey']);
        return;
      }
      const key = utils.parseKey(ctx.key.data);
      if (key instanceof Error) {
        ctx.reject(['publickey']);
        return;
      }
      if (ctx.signature === undefined) {
        ctx.accept(); // the client asks whether this key would do: any key would
        return;
      }
      const ok =
        ctx.blob !== undefined && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
      if (ok) ctx.accept();
      else ctx.reject(['publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (acceptExec, _reject, info) => {
          const channel = acceptExec();
          records.push({ command: info.command, env: { ...execEnv } });
          if (closed) {
            channel.exit(255);
            channel.end();
            return;
          }
          runExec(channel, info.command, home, execEnv, children);
        });
        session.on('sftp', (acceptSftp) => {
          serveSftp(acceptSftp(), root, '/Users/ec2-user');
        });
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const readProcesses = () => sandboxProcesses(root);

  return {
    host: '127.0.0.1',
    port,
    hostKey: { public: hostKeyPair.public, private: hostKeyPair.private, parsed: parsedHostKey },
    root,
    home,
    imdsUrl: imds.url,
    hostPath,
    commands: () => records.map((r) => ({ command: r.command, env: { ...r.env } })),
    setTag: (key, value) => imds.setTag(key, value),
    imds: {
      requests: () => [...imds.requests],
      expireTokens: () => imds.expireTokens(),
      failTagReads: (count, status) => imds.failTagReads(count, status),
    },
    standInLog: async () => {
      const text = await readFile(join(state, 'stand-ins.jsonl'), 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as StandInCall);
    },
    files: () => listFiles(root, state),
    file: async (macPath) => {
      const all = await listFiles(root, state, hostPath(macPath));
      return all[0];
    },
    readText: async (macPath) => readFile(hostPath(macPath), 'utf8').catch(() => undefined),
    processes: readProcesses,
    cirrus: async (commands) => {
      const lines = commands.map(cirrusLine).join('\n') + '\n';
      const name = `${Date.now()}-${randomBytes(4).toString('hex')}`;
      const tmp = join(state, 'cirrus-inbox', `${name}.tmp`);
      await writeFile(tmp, lines);
      await rename(tmp, join(state, 'cirrus-inbox', `${name}.cmd`));
    },
    shell: (command) =>
      new Promise((resolve, reject) => {
        const child = spawn('/bin/sh', ['-c', command], {
          cwd: home,
          env: execEnv,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        children.add(child);
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => err.push(d));
        child.on('error', reject);
        child.on('close', (code) => {
          children.delete(child);
          resolve({
            code,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8'),
          });
        });
      }),
    users: async () => {
      const text = await readFile(join(state, 'users'), 'utf8');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split(' ')[0] ?? '');
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const c of connections) c.end();
      await killSandboxProcesses(root, children);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await imds.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}

function cirrusLine(c: CirrusCommand): string {
  if ('tasks' in c) return `tasks ${c.tasks}`;
  if ('startTask' in c) return 'start-task';
  if ('finishTask' in c) return `finish-task ${c.finishTask}`;
  if ('line' in c) {
    if (c.line.includes('\n')) throw new Error('a cirrus log line cannot contain a newline');
    return `line ${c.line}`;
  }
  return `job ${c.job}`;
}

// ------------------------------------------------------------------------------ the tree

async function buildTree(p: {
  base: string;
  root: string;
  state: string;
  bin: string;
  lib: string;
  home: string;
  hostname: string | undefined;
}): Promise<void> {
  const { root, state, bin, lib, home } = p;
  for (const d of [
    home,
    join(root, 'private', 'tmp'),
    join(root, 'usr', 'local', 'bin'),
    join(root, 'usr', 'sbin'),
    join(root, 'opt', 'homebrew', 'bin'),
    join(root, 'etc'),
    join(root, 'Library', 'Preferences'),
    join(root, 'var', 'root'),
    join(state, 'cirrus-inbox'),
    join(state, 'agent'),
    bin,
    lib,
  ]) {
    await mkdirP(d, { recursive: true });
  }
  await chmodP(join(root, 'private', 'tmp'), 0o1777);
  await chmodP(home, 0o750);
  await writeFile(join(root, 'etc', 'paths'), EC2_MAC_PATHS.join('\n') + '\n');
  await writeFile(
    join(root, 'etc', 'profile'),
    '# sandbox /etc/profile: the stand-ins stay first on PATH, so nothing to do here\n',
  );
  const uid = process.getuid?.() ?? 0;
  await writeFile(join(state, 'users'), `root 0 0\nec2-user ${uid} 20\n`);
  await writeFile(join(state, 'hostname'), `${p.hostname ?? 'ip-172-31-16-10.ec2.internal'}\n`);
  for (const f of ['volumes', 'owners', 'defaults', 'stand-ins.jsonl']) {
    await writeFile(join(state, f), '');
  }
  await writeFile(join(state, 'agent', 'cirrus-0.150.0-darwin-arm64'), CIRRUS_JOB_SCRIPT, {
    mode: 0o755,
  });

  const common = await readFile(join(STAND_IN_DIR, 'common.sh'), 'utf8');
  const standIn = async (tool: string, source: string) => {
    const body = await readFile(join(STAND_IN_DIR, source), 'utf8');
    return `#!/bin/bash\nSB_BASE=${shQuote(p.base)}\nSB_TOOL=${shQuote(tool)}\n${common}\n${body}`;
  };
  for (const tool of PATH_TOOLS) {
    const source = tool === 'pgrep' || tool === 'pkill' ? 'procs.sh' : `${tool}.sh`;
    await writeFile(join(bin, tool), await standIn(tool, source), { mode: 0o755 });
  }
  await writeFile(join(root, 'opt', 'homebrew', 'bin', 'brew'), await standIn('brew', 'brew.sh'), {
    mode: 0o755,
  });
  await writeFile(
    join(root, 'usr', 'sbin', 'softwareupdate'),
    await standIn('softwareupdate', 'softwareupdate.sh'),
    { mode: 0o755 },
  );
  await writeFile(join(lib, 'cirrus'), await standIn('cirrus', 'cirrus.sh'), { mode: 0o755 });
}

function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

// ------------------------------------------------------------------------------ exec

function runExec(
  channel: ServerChannel,
  command: string,
  cwd: string,
  env: Record<string, string>,
  children: Set<ChildProcess>,
): void {
  // As sshd does: the login shell runs the command string (here /bin/sh, on macOS zsh).
  const child = spawn('/bin/sh', ['-c', command], {
    cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  child.stdin.on('error', () => undefined); // the command may exit without reading stdin
  channel.on('data', (chunk: Buffer) => {
    if (!child.stdin.destroyed) child.stdin.write(chunk);
  });
  channel.on('end', () => {
    if (!child.stdin.destroyed) child.stdin.end();
  });
  channel.on('error', () => undefined);
  child.stdout.on('data', (chunk: Buffer) => channel.write(chunk));
  child.stderr.on('data', (chunk: Buffer) => channel.stderr.write(chunk));
  child.on('error', (error) => {
    children.delete(child);
    channel.stderr.write(`sandbox: cannot run the command: ${error.message}\n`);
    channel.exit(127);
    channel.end();
  });
  // 'close' waits for stdout/stderr to close, like sshd: a background process that kept the
  // channel's descriptors would hold the command open (the scripts must redirect them).
  child.on('close', (code, signal) => {
    children.delete(child);
    if (signal !== null) channel.exit(signal.replace(/^SIG/, ''), false, '');
    else channel.exit(code ?? 255);
    channel.end();
  });
}

// ------------------------------------------------------------------------------ SFTP

interface OpenHandle {
  kind: 'file' | 'dir';
  fd?: number;
  entries?: string[];
  dir?: string;
  sent?: boolean;
}

function serveSftp(sftp: SFTPWrapper, root: string, loginDir: string): void {
  const handles = new Map<number, OpenHandle>();
  let next = 1;
  const macPath = (p: string) => posix.resolve(loginDir, p === '' ? '.' : p);
  const host = (p: string) => join(root, macPath(p));
  const newHandle = (h: OpenHandle) => {
    const id = next++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id, 0);
    return buf;
  };
  const lookup = (buf: Buffer) => (buf.length === 4 ? handles.get(buf.readUInt32BE(0)) : undefined);
  const fail = (reqId: number, error: unknown) => {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
    else if (code === 'EACCES' || code === 'EPERM')
      sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED);
    else sftp.status(reqId, STATUS_CODE.FAILURE, String((error as Error | undefined)?.message));
  };
  const ok = (reqId: number) => sftp.status(reqId, STATUS_CODE.OK);
  const toAttrs = (st: Stats): Attributes => ({
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  });
  const applyAttrs = async (path: string, attrs: Attributes) => {
    if (typeof attrs.mode === 'number') await chmodP(path, attrs.mode & 0o7777);
    if (typeof attrs.atime === 'number' && typeof attrs.mtime === 'number') {
      await utimes(path, attrs.atime, attrs.mtime);
    }
  };

  sftp.on('REALPATH', (reqId, p) => {
    const m = macPath(p);
    sftp.name(reqId, [{ filename: m, longname: m, attrs: {} as Attributes }]);
  });
  sftp.on('STAT', (reqId, p) => {
    statP(host(p)).then(
      (st) => sftp.attrs(reqId, toAttrs(st)),
      (e: unknown) => fail(reqId, e),
    );
  });
  sftp.on('LSTAT', (reqId, p) => {
    lstat(host(p), (e, st) => (e ? fail(reqId, e) : sftp.attrs(reqId, toAttrs(st))));
  });
  sftp.on('FSTAT', (reqId, h) => {
    const fd = lookup(h)?.fd;
    if (fd === undefined) return sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
    fstat(fd, (e, st) => (e ? fail(reqId, e) : sftp.attrs(reqId, toAttrs(st))));
  });
  sftp.on('MKDIR', (reqId, p, attrs) => {
    const path = host(p);
    mkdir(path, (e) => {
      if (e) return fail(reqId, e);
      chmod(path, (attrs.mode ?? 0o755) & 0o7777, (e2) => (e2 ? fail(reqId, e2) : ok(reqId)));
    });
  });
  sftp.on('RMDIR', (reqId, p) => {
    rmdir(host(p)).then(
      () => ok(reqId),
      (e: unknown) => fail(reqId, e),
    );
  });
  sftp.on('REMOVE', (reqId, p) => {
    unlink(host(p)).then(
      () => ok(reqId),
      (e: unknown) => fail(reqId, e),
    );
  });
  sftp.on('RENAME', (reqId, from, to) => {
    rename(host(from), host(to)).then(
      () => ok(reqId),
      (e: unknown) => fail(reqId, e),
    );
  });
  sftp.on('READLINK', (reqId, p) => {
    readlink(host(p)).then(
      (target) =>
        sftp.name(reqId, [{ filename: target, longname: target, attrs: {} as Attributes }]),
      (e: unknown) => fail(reqId, e),
    );
  });
  sftp.on('SETSTAT', (reqId, p, attrs) => {
    applyAttrs(host(p), attrs).then(
      () => ok(reqId),
      (e: unknown) => fail(reqId, e),
    );
  });
  sftp.on('FSETSTAT', (reqId, h, attrs) => {
    const fd = lookup(h)?.fd;
    if (fd === undefined) return sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
    if (typeof attrs.mode !== 'number') return ok(reqId);
    fchmod(fd, attrs.mode & 0o7777, (e) => (e ? fail(reqId, e) : ok(reqId)));
  });
  sftp.on('OPEN', (reqId, p, flags, attrs) => {
    const mode = utils.sftp.flagsToString(flags);
    if (mode === null) return sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED, 'bad open flags');
    const path = host(p);
    lstat(path, (missingError) => {
      const created = missingError !== null;
      openCb(path, mode, 0o600, (e, fd) => {
        if (e) return fail(reqId, e);
        const done = () => sftp.handle(reqId, newHandle({ kind: 'file', fd }));
        // A new file gets exactly the requested mode (no umask), as the brief asks.
        if (created)
          fchmod(fd, (attrs.mode ?? 0o644) & 0o7777, (e2) => (e2 ? fail(reqId, e2) : done()));
        else done();
      });
    });
  });
  sftp.on('WRITE', (reqId, h, offset, data) => {
    const fd = lookup(h)?.fd;
    if (fd === undefined) return sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
    writeCb(fd, data, 0, data.length, offset, (e) => (e ? fail(reqId, e) : ok(reqId)));
  });
  sftp.on('READ', (reqId, h, offset, length) => {
    const fd = lookup(h)?.fd;
    if (fd === undefined) return sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
    const buf = Buffer.alloc(length);
    readCb(fd, buf, 0, length, offset, (e, n) => {
      if (e) return fail(reqId, e);
      if (n === 0) return sftp.status(reqId, STATUS_CODE.EOF);
      sftp.data(reqId, buf.subarray(0, n));
    });
  });
  sftp.on('OPENDIR', (reqId, p) => {
    const dir = host(p);
    readdir(dir).then(
      (entries) => sftp.handle(reqId, newHandle({ kind: 'dir', entries, dir })),
      (e: unknown) => fail(reqId, e),
    );
  });
  sftp.on('READDIR', (reqId, h) => {
    const handle = lookup(h);
    if (handle?.kind !== 'dir' || handle.dir === undefined) {
      return sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
    }
    if (handle.sent === true || (handle.entries ?? []).length === 0) {
      return sftp.status(reqId, STATUS_CODE.EOF);
    }
    handle.sent = true;
    const dir = handle.dir;
    Promise.all(
      (handle.entries ?? []).map(async (name) => {
        const st = await lstatP(join(dir, name));
        return { filename: name, longname: name, attrs: toAttrs(st) };
      }),
    ).then(
      (names) => sftp.name(reqId, names),
      (e: unknown) => fail(reqId, e),
    );
  });
  sftp.on('CLOSE', (reqId, h) => {
    const handle = lookup(h);
    if (handle === undefined) return sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
    handles.delete(h.readUInt32BE(0));
    if (handle.fd === undefined) return ok(reqId);
    closeFdCb(handle.fd, (e) => (e ? fail(reqId, e) : ok(reqId)));
  });
  sftp.on('close', () => {
    for (const h of handles.values()) if (h.fd !== undefined) closeFdCb(h.fd, () => undefined);
    handles.clear();
  });
}

// ------------------------------------------------------------------------------ IMDS

interface Imds {
  url: string;
  requests: ImdsRequest[];
  setTag(key: string, value: string | undefined): void;
  expireTokens(): void;
  failTagReads(count: number, status: number): void;
  close(): Promise<void>;
}

async function startImds(
  initialTags: Record<string, string>,
  routes: Record<string, { status?: number; body: string | Buffer }>,
): Promise<Imds> {
  const tags = new Map(Object.entries(initialTags));
  const tokens = new Set<string>();
  const requests: ImdsRequest[] = [];
  let failures = { count: 0, status: 500 };
  const server: HttpServer = createServer((req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const answer = (status: number, body: string | Buffer = '') => {
      requests.push({ method: req.method ?? '', path, status });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    };
    req.resume();
    const route = req.method === 'GET' ? routes[path] : undefined;
    if (route !== undefined) return answer(route.status ?? 200, route.body);
    if (req.method === 'PUT' && path === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return answer(400);
      const token = randomBytes(24).toString('base64url');
      tokens.add(token);
      return answer(200, token);
    }
    if (req.method === 'GET' && path.startsWith('/latest/meta-data/tags/instance')) {
      const token = req.headers['x-aws-ec2-metadata-token'];
      if (typeof token !== 'string' || !tokens.has(token)) return answer(401);
      if (failures.count > 0) {
        failures = { count: failures.count - 1, status: failures.status };
        return answer(failures.status);
      }
      const key = decodeURIComponent(path.slice('/latest/meta-data/tags/instance'.length + 1));
      if (key === '') return answer(200, [...tags.keys()].join('\n'));
      const value = tags.get(key);
      return value === undefined ? answer(404) : answer(200, value);
    }
    if (req.method === 'GET' && path === '/downloads/gvproxy-darwin') {
      return answer(200, '#!/bin/sh\necho "gvproxy (sandbox stand-in)"\n');
    }
    return answer(404);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setTag: (key, value) => {
      if (value === undefined) tags.delete(key);
      else tags.set(key, value);
    },
    expireTokens: () => tokens.clear(),
    failTagReads: (count, status) => {
      failures = { count, status };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ------------------------------------------------------------------------------ processes

async function sandboxProcesses(root: string): Promise<SandboxProcess[]> {
  const marker = `PW_POOL_ROOT=${root}`;
  const out: SandboxProcess[] = [];
  const entries = await readdir('/proc').catch(() => [] as string[]);
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const rawEnviron = await readFile(`/proc/${entry}/environ`, 'latin1');
      const env = rawEnviron.split('\0');
      if (!env.includes(marker)) continue;
      const rawCmdline = await readFile(`/proc/${entry}/cmdline`, 'latin1');
      const stat = await readFile(`/proc/${entry}/stat`, 'latin1');
      const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (afterComm[0] === 'Z') continue;
      const user = env.find((e) => e.startsWith('PW_SANDBOX_USER='))?.slice(16) || 'ec2-user';
      out.push({
        pid: Number(entry),
        ppid: Number(afterComm[1]),
        user,
        cmdline: rawCmdline.replace(/\0$/, '').split('\0').join(' '),
        rawCmdline,
        rawEnviron,
      });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

async function killSandboxProcesses(root: string, children: Set<ChildProcess>): Promise<void> {
  for (const child of children) {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (let round = 0; round < 200; round++) {
    const procs = await sandboxProcesses(root);
    if (procs.length === 0) return;
    for (const p of procs) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`sandbox: processes of ${root} survived SIGKILL`);
}

// ------------------------------------------------------------------------------ files

async function ownersOf(state: string, root: string): Promise<Map<string, string>> {
  // "<host path>\t<inode>\t<user:group>" lines; the last record of a path wins, and it counts
  // only while the path still has that inode (a replaced file has lost its recorded owner).
  const owners = new Map<string, string>();
  const text = await readFile(join(state, 'owners'), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [p, inode, owner] = line.split('\t');
    if (p === undefined || inode === undefined || owner === undefined) continue;
    const hostP = p.replace(/\/+$/, '');
    const st = await lstatP(hostP).catch(() => undefined);
    const macP = hostP.startsWith(root) ? hostP.slice(root.length) || '/' : hostP;
    if (st !== undefined && String(st.ino) === inode) owners.set(macP, owner);
    else owners.delete(macP);
  }
  return owners;
}

async function listFiles(root: string, state: string, only?: string): Promise<SandboxFile[]> {
  const owners = await ownersOf(state, root);
  const out: SandboxFile[] = [];
  const visit = async (hostP: string, recurse: boolean) => {
    let st: Stats;
    try {
      st = await lstatP(hostP);
    } catch {
      return;
    }
    const macP = hostP.slice(root.length) || '/';
    const type = st.isFile()
      ? 'file'
      : st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? 'symlink'
          : 'other';
    const entry: SandboxFile = { path: macP, type, mode: st.mode & 0o7777, size: st.size };
    const owner = owners.get(macP);
    if (owner !== undefined) entry.owner = owner;
    out.push(entry);
    if (recurse && type === 'dir') {
      for (const name of (await readdir(hostP)).sort()) await visit(join(hostP, name), true);
    }
  };
  await visit(only ?? root, only === undefined);
  return out;
}
