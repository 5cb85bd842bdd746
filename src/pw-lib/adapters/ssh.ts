// The SSH transport (ssh2): one connection per instance per run, authentication through the
// ssh-agent or an identity file, host keys pinned per instance id in <stateDir>/known_hosts
// (OpenSSH format), a timeout on the connect, on every command and on every upload.
// A failure here always means "unreachable" or "unknown", never "file missing" (behavior.md §9 R2).
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import type { Client as SshClient, ClientChannel, SFTPWrapper } from 'ssh2';
import type { Logger } from 'pino';
import { replaceFileAtomic } from './state-dir.js';

export type SshFailureKind = 'tcp' | 'ssh' | 'host-key' | 'transport' | 'timeout';

export class SshError extends Error {
  constructor(
    readonly kind: SshFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SshError';
  }
}

export type HostKeyPolicy = 'accept-new' | 'strict' | 'insecure';

/** The key type and base64 blob of an SSH public key blob (`string keytype` comes first). */
export function describeHostKey(blob: Buffer): { type: string; base64: string } {
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return { type: /^[\x21-\x7e]+$/.test(type) ? type : 'unknown', base64: blob.toString('base64') };
}

/**
 * known_hosts pinned per instance id: `<instance-id> <keytype> <base64>` lines, loaded once per run,
 * written atomically when a key was added. `pw-pool ssh` uses the same file with HostKeyAlias.
 */
export class KnownHosts {
  private readonly entries = new Map<string, { type: string; base64: string }[]>();
  private readonly otherLines: string[] = [];
  private dirty = false;
  private warnedInsecure = false;

  private constructor(
    readonly path: string,
    private readonly policy: HostKeyPolicy,
    private readonly log: Logger,
  ) {}

  static async load(path: string, policy: HostKeyPolicy, log: Logger): Promise<KnownHosts> {
    const kh = new KnownHosts(path, policy, log);
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    for (const line of text.split('\n')) {
      const [alias, type, base64] = line.trim().split(/\s+/);
      if (
        line.startsWith('#') ||
        alias === undefined ||
        type === undefined ||
        base64 === undefined
      ) {
        if (line.trim() !== '') kh.otherLines.push(line);
        continue;
      }
      for (const a of alias.split(',')) {
        const list = kh.entries.get(a) ?? [];
        list.push({ type, base64 });
        kh.entries.set(a, list);
      }
    }
    return kh;
  }

  /** The aliases (instance ids) that have a pinned key. */
  aliases(): string[] {
    return [...this.entries.keys()];
  }

  /** Decides whether `blob` is acceptable for `alias`, pinning it under accept-new. */
  verify(alias: string, blob: Buffer): { ok: true } | { ok: false; reason: string } {
    const key = describeHostKey(blob);
    if (this.policy === 'insecure') {
      if (!this.warnedInsecure) {
        this.warnedInsecure = true;
        this.log.warn('ssh.hostKeyPolicy is insecure: host keys are not checked');
      }
      return { ok: true };
    }
    const known = this.entries.get(alias) ?? [];
    if (known.some((k) => k.type === key.type && k.base64 === key.base64)) return { ok: true };
    if (known.some((k) => k.type === key.type)) {
      return {
        ok: false,
        reason: `host key for ${alias} changed (${key.type}); remove its line from ${this.path} if expected`,
      };
    }
    if (this.policy === 'strict')
      return { ok: false, reason: `no pinned ${key.type} host key for ${alias} in ${this.path}` };
    this.entries.set(alias, [...known, key]);
    this.dirty = true;
    this.log.info({ alias, keyType: key.type }, 'new host key pinned');
    return { ok: true };
  }

  /** Keeps only the entries of these aliases (nightly pruning). */
  retain(aliases: ReadonlySet<string>): number {
    let removed = 0;
    for (const alias of [...this.entries.keys()]) {
      if (!aliases.has(alias)) {
        this.entries.delete(alias);
        removed += 1;
        this.dirty = true;
      }
    }
    return removed;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    const lines = [...this.otherLines];
    for (const [alias, keys] of [...this.entries].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    )) {
      for (const k of keys) lines.push(`${alias} ${k.type} ${k.base64}`);
    }
    await replaceFileAtomic(this.path, `${lines.join('\n')}\n`);
    this.dirty = false;
  }
}

export interface SshAuth {
  /** ssh-agent socket (SSH_AUTH_SOCK, or from ssh.agentEnvFile). */
  readonly agentSocket: string | undefined;
  /** An unencrypted private key (ssh.identityFile), read through readSecretFile. */
  readonly privateKey: string | undefined;
}

export interface SshOptions {
  readonly user: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly auth: SshAuth;
  readonly knownHosts: KnownHosts;
  readonly log: Logger;
}

export interface ExecResult {
  readonly code: number | null;
  readonly signal: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/** Single-quote escaping for a word of a remote command line (§9 R7). */
export function shQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new SshError('tcp', `TCP connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      // Small request/answer exchanges: without this every command waits for a delayed ACK.
      sock.setNoDelay(true);
      resolve(sock);
    });
    sock.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new SshError('tcp', `TCP connect to ${host}:${port} failed: ${error.message}`, {
          cause: error,
        }),
      );
    });
  });
}

/** One SSH connection to one instance, reused for every operation in this run. */
export class SshConnection {
  private broken: SshError | undefined;

  private constructor(
    private readonly client: SshClient,
    readonly host: string,
    private readonly opts: SshOptions,
  ) {
    client.on('error', (error: Error) => {
      this.broken ??= new SshError('transport', `connection to ${host} failed: ${error.message}`, {
        cause: error,
      });
    });
    client.on('close', () => {
      this.broken ??= new SshError('transport', `connection to ${host} closed`);
    });
  }

  /** TCP first (failure: `tcp`), then the SSH handshake, host key and auth (failure: `ssh`/`host-key`). */
  static async open(host: string, alias: string, opts: SshOptions): Promise<SshConnection> {
    const t0 = Date.now();
    const sock = await tcpConnect(host, opts.port, opts.connectTimeoutMs);
    const remaining = Math.max(1, opts.connectTimeoutMs - (Date.now() - t0));
    const client = new ssh2.Client();
    let hostKeyProblem: string | undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end();
        sock.destroy();
        reject(
          new SshError(
            'ssh',
            `SSH handshake with ${host} timed out after ${opts.connectTimeoutMs} ms`,
          ),
        );
      }, remaining);
      client.once('ready', () => {
        clearTimeout(timer);
        client.removeAllListeners('error');
        resolve(new SshConnection(client, host, opts));
      });
      client.once('error', (error: Error) => {
        clearTimeout(timer);
        sock.destroy();
        if (hostKeyProblem !== undefined) {
          reject(new SshError('host-key', hostKeyProblem, { cause: error }));
        } else {
          reject(
            new SshError('ssh', `SSH to ${opts.user}@${host} failed: ${error.message}`, {
              cause: error,
            }),
          );
        }
      });
      client.connect({
        sock,
        username: opts.user,
        ...(opts.auth.agentSocket !== undefined ? { agent: opts.auth.agentSocket } : {}),
        ...(opts.auth.privateKey !== undefined ? { privateKey: opts.auth.privateKey } : {}),
        readyTimeout: remaining + 1000,
        keepaliveInterval: 0,
        hostVerifier: (key: Buffer) => {
          const verdict = opts.knownHosts.verify(alias, key);
          if (!verdict.ok) hostKeyProblem = verdict.reason;
          return verdict.ok;
        },
      });
    });
  }

  /**
   * Runs one command string with `stdin` written to the channel, then EOF. Resolves with the exit
   * status; rejects with `transport` when the connection drops and `timeout` after the command
   * timeout (the connection is then closed: a hung session is not reused).
   */
  exec(command: string, stdin: string): Promise<ExecResult> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      let settled = false;
      let channelRef: ClientChannel | undefined;
      const fail = (error: SshError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.broken ??= error;
        channelRef?.destroy();
        this.client.end();
        reject(error);
      };
      const timer = setTimeout(
        () =>
          fail(
            new SshError(
              'timeout',
              `command on ${this.host} timed out after ${this.opts.commandTimeoutMs} ms`,
            ),
          ),
        this.opts.commandTimeoutMs,
      );
      const onClientGone = () =>
        fail(this.broken ?? new SshError('transport', `connection to ${this.host} lost`));
      this.client.once('close', onClientGone);
      this.client.exec(command, (err, channel) => {
        if (err) {
          fail(
            new SshError('transport', `exec on ${this.host} failed: ${err.message}`, {
              cause: err,
            }),
          );
          return;
        }
        channelRef = channel;
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let size = 0;
        let code: number | null = null;
        let signal: string | undefined;
        let exited = false;
        channel.on('data', (d: Buffer) => {
          size += d.length;
          if (size <= MAX_OUTPUT_BYTES) out.push(d);
        });
        channel.stderr.on('data', (d: Buffer) => {
          if (size <= MAX_OUTPUT_BYTES) errOut.push(d);
        });
        channel.on('exit', (c: number | null, s?: string) => {
          exited = true;
          code = c;
          signal = s ?? undefined;
        });
        channel.on('close', () => {
          if (settled) return;
          this.client.off('close', onClientGone);
          if (!exited) {
            fail(
              new SshError(
                'transport',
                `the channel to ${this.host} closed without an exit status`,
              ),
            );
            return;
          }
          settled = true;
          clearTimeout(timer);
          resolve({
            code,
            signal,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errOut).toString('utf8'),
          });
        });
        channel.end(stdin);
      });
    });
  }

  /** SFTP uploads relative to the login directory, with explicit modes; one timeout for all. */
  upload(
    dirs: readonly { path: string; mode: number }[],
    files: readonly { path: string; data: Buffer; mode: number }[],
  ): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      let settled = false;
      let sftpRef: SFTPWrapper | undefined;
      const finish = (error?: SshError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sftpRef?.end();
        if (error) {
          this.broken ??= error.kind === 'timeout' ? error : undefined;
          if (error.kind === 'timeout') this.client.end();
          reject(error);
        } else {
          resolve();
        }
      };
      const timer = setTimeout(
        () =>
          finish(
            new SshError(
              'timeout',
              `upload to ${this.host} timed out after ${this.opts.commandTimeoutMs} ms`,
            ),
          ),
        this.opts.commandTimeoutMs,
      );
      this.client.sftp((err, sftp) => {
        if (err)
          return finish(
            new SshError('transport', `SFTP to ${this.host} failed: ${err.message}`, {
              cause: err,
            }),
          );
        sftpRef = sftp;
        const step = async () => {
          for (const d of dirs) {
            await new Promise<void>((res) => sftp.mkdir(d.path, { mode: d.mode }, () => res()));
            await new Promise<void>((res, rej) =>
              sftp.chmod(d.path, d.mode, (e) =>
                e ? rej(new Error(`chmod ${d.path}: ${e.message}`)) : res(),
              ),
            );
          }
          for (const f of files) {
            await new Promise<void>((res, rej) =>
              sftp.writeFile(f.path, f.data, { mode: f.mode }, (e) =>
                e ? rej(new Error(`write ${f.path}: ${e.message}`)) : res(),
              ),
            );
            await new Promise<void>((res, rej) =>
              sftp.chmod(f.path, f.mode, (e) =>
                e ? rej(new Error(`chmod ${f.path}: ${e.message}`)) : res(),
              ),
            );
          }
        };
        step().then(
          () => finish(),
          (e: Error) =>
            finish(
              new SshError('transport', `upload to ${this.host} failed: ${e.message}`, {
                cause: e,
              }),
            ),
        );
      });
    });
  }

  close(): void {
    this.client.end();
  }
}
