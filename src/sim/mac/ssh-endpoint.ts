// A simulated Mac's sshd: a TCP listener on <instance address>:<port> while the Mac is up, with
// the Mac's own host key, public-key authentication for ec2-user (any key whose signature
// verifies), exec requests answered by the Mac's model and an SFTP subsystem. Connections are
// accepted here first, so the connection faults can act before any SSH byte is sent:
//   unreachable  the socket is accepted and never written to (no banner)
//   hang         the handshake completes, session channels are never answered
//   drop         the connection is cut in the middle of the next command (no exit status)
// Injected latency (the Mac's settings, real milliseconds, read at each event):
//   sshHandshakeMs  the banner is held this long after the accept, so no handshake is shorter
//   sshCommandMs    a command runs when its input ends and its answer (output, exit status, or
//                   a drop fault's cut) is sent this long after; an SFTP start waits as long

import { createHash } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import type { FaultInjector } from '../faults.js';
import type { SimMac } from './mac.js';
import type { ExecResult } from './operations.js';
import { parseBashCommand } from './shell-words.js';
import { serveSftp } from './sftp.js';

/** Largest stdin a command may send (a script plus margin); more closes the channel. */
const MAX_STDIN_BYTES = 4 * 1024 * 1024;

export interface EndpointStats {
  connections: number;
  open: number;
  authenticated: number;
  authRejected: number;
  /** Connections held silent by an `unreachable` fault. */
  unreachable: number;
  /** Session channels left unanswered by a `hang` fault. */
  hungSessions: number;
  dropped: number;
  /** The last accepted client key, `SHA256:...`. */
  lastClientKey: string | undefined;
}

export interface EndpointView extends EndpointStats {
  listening: boolean;
  listenError: string | undefined;
  hostKey: string;
  hostKeyFingerprint: string;
  hostKeyChanges: number;
}

export class MacEndpoint {
  readonly #mac: SimMac;
  readonly #faults: FaultInjector;
  readonly #port: number;
  readonly #sockets = new Set<Socket>();
  readonly #byPeer = new Map<string, Socket>();
  /** Injected-latency timers, cancelled when the listener closes. */
  readonly #delays = new Set<NodeJS.Timeout>();
  #net: NetServer | undefined;
  #ssh: ssh2.Server;
  #hostPublic = '';
  #hostKeyChanges = 0;
  #listenError: string | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  readonly stats: EndpointStats = {
    connections: 0,
    open: 0,
    authenticated: 0,
    authRejected: 0,
    unreachable: 0,
    hungSessions: 0,
    dropped: 0,
    lastClientKey: undefined,
  };

  constructor(mac: SimMac, faults: FaultInjector, port: number) {
    this.#mac = mac;
    this.#faults = faults;
    this.#port = port;
    this.#ssh = this.#newSshServer();
  }

  /** The Mac presents a new host key to every later connection. */
  rotateHostKey(): void {
    this.#ssh = this.#newSshServer();
    this.#hostKeyChanges++;
  }

  get hostKey(): string {
    return this.#hostPublic;
  }

  view(): EndpointView {
    return {
      ...this.stats,
      open: this.#sockets.size,
      listening: this.#net !== undefined,
      listenError: this.#listenError,
      hostKey: this.#hostPublic,
      hostKeyFingerprint: fingerprint(this.#hostPublic),
      hostKeyChanges: this.#hostKeyChanges,
    };
  }

  /** Opens or closes the listener (in order; the promise settles when it is done). */
  setListening(want: boolean): Promise<void> {
    this.#chain = this.#chain.then(() =>
      want && !this.#closed ? this.#listen() : this.#unlisten(),
    );
    return this.#chain;
  }

  /** Closes the listener and every connection; idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    return this.setListening(false);
  }

  async #listen(): Promise<void> {
    if (this.#net !== undefined) return;
    const server = createServer((socket) => this.#accept(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.#port, this.#mac.address, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.#listenError = undefined;
      this.#net = server;
    } catch (error) {
      this.#listenError = String(error);
      process.emitWarning(
        `simulated Mac ${this.#mac.instanceId}: cannot listen on ${this.#mac.address}:${this.#port}: ${String(error)}`,
      );
    }
  }

  async #unlisten(): Promise<void> {
    const server = this.#net;
    this.#net = undefined;
    for (const timer of this.#delays) clearTimeout(timer);
    this.#delays.clear();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    this.#byPeer.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    this.stats.connections++;
    this.#sockets.add(socket);
    // As sshd does for sessions: no Nagle. A reply is several small writes (data, exit status,
    // EOF, close); with Nagle each waits for the client's delayed ACK (~40 ms per command).
    socket.setNoDelay(true);
    const peer = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
    this.#byPeer.set(peer, socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.#byPeer.delete(peer);
    });
    if (this.#mac.power !== 'on') {
      socket.destroy();
      return;
    }
    if (this.#faults.takeMacFault('unreachable', this.#mac.ref) !== undefined) {
      this.stats.unreachable++;
      return; // accepted, never answered
    }
    // The client's first bytes wait in the socket until ssh2 takes it over and sends the banner.
    this.#later(this.#mac.effectiveSettings().sshHandshakeMs, () => {
      if (socket.destroyed) return;
      if (this.#mac.power !== 'on') socket.destroy();
      else this.#ssh.injectSocket(socket);
    });
  }

  /**
   * Runs `fn` after at least `ms` real milliseconds (at once when 0); a timer that fires early by
   * the clocks' rounding waits for the rest, so a client never measures less than `ms`.
   */
  #later(ms: number, fn: () => void): void {
    if (!(ms > 0)) {
      fn();
      return;
    }
    const due = performance.now() + ms;
    const arm = (wait: number): void => {
      const timer = setTimeout(() => {
        this.#delays.delete(timer);
        const left = due - performance.now();
        if (left > 0) arm(Math.ceil(left));
        else fn();
      }, wait);
      this.#delays.add(timer);
    };
    arm(ms);
  }

  #newSshServer(): ssh2.Server {
    const keys = generateEd25519KeyPair();
    this.#hostPublic = keys.public.trim();
    return new ssh2.Server({ hostKeys: [keys.private], ident: 'OpenSSH_9.7' }, (client, info) =>
      this.#serve(client, this.#byPeer.get(`${info.ip}:${info.port}`)),
    );
  }

  #serve(client: Connection, socket: Socket | undefined): void {
    let hung = false;
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.username !== 'ec2-user' || ctx.method !== 'publickey') {
        if (ctx.method !== 'none') this.stats.authRejected++;
        ctx.reject(['publickey']);
        return;
      }
      const key = ssh2.utils.parseKey(ctx.key.data);
      if (key instanceof Error) {
        this.stats.authRejected++;
        ctx.reject(['publickey']);
        return;
      }
      if (ctx.signature === undefined) {
        ctx.accept(); // "would this key do?": yes, if it can sign
        return;
      }
      const parsed = Array.isArray(key) ? (key[0] as ssh2.ParsedKey) : key;
      if (ctx.blob === undefined || parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
        this.stats.authRejected++;
        ctx.reject(['publickey']);
        return;
      }
      this.stats.authenticated++;
      this.stats.lastClientKey = fingerprintOfBlob(ctx.key.data);
      ctx.accept();
    });
    client.on('ready', () => {
      if (this.#faults.takeMacFault('hang', this.#mac.ref) !== undefined) hung = true;
    });
    client.on('session', (accept) => {
      if (hung) {
        this.stats.hungSessions++;
        return; // never confirmed, never refused
      }
      const session = accept();
      const env: Record<string, string> = {};
      session.on('env', (ok, _reject, info) => {
        env[info.key] = info.val;
        ok?.();
      });
      session.on('pty', (ok) => ok?.());
      session.on('exec', (ok, _reject, info) => this.#exec(ok(), info.command, env, socket));
      session.on('shell', (ok) => {
        const channel = ok();
        channel.write(
          'This is a simulated Mac (pw-pool sim): interactive shells are not modelled.\r\n',
        );
        channel.exit(1);
        channel.end();
      });
      session.on('sftp', (ok) =>
        this.#later(this.#mac.effectiveSettings().sshCommandMs, () => {
          if (socket?.destroyed !== true) serveSftp(ok(), this.#mac);
        }),
      );
    });
  }

  #exec(
    channel: ServerChannel,
    command: string,
    env: Record<string, string>,
    socket: Socket | undefined,
  ): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const run = (): void => {
      if (done) return;
      done = true;
      this.#mac.nowMs(); // bring the Mac to the virtual now first: it may have shut down since
      if (this.#mac.power !== 'on') {
        socket?.destroy();
        return;
      }
      const drop = this.#faults.takeMacFault('drop', this.#mac.ref);
      const fault =
        drop === undefined ? undefined : drop.value === 'before' ? 'drop-before' : 'drop';
      let result: ExecResult;
      try {
        result = this.#mac.exec({ command, stdin: Buffer.concat(chunks), env: { ...env } }, fault);
      } catch (error) {
        // A simulator bug must not take the whole simulated cloud down: report it as bash would.
        process.emitWarning(
          `simulated Mac ${this.#mac.instanceId}: command failed: ${String(error)}`,
        );
        result = {
          stdout: '',
          stderr: `simulated Mac: internal error: ${String(error)}\n`,
          exitCode: 1,
          op: undefined,
        };
      }
      if (fault !== undefined) this.stats.dropped++;
      this.#later(this.#mac.effectiveSettings().sshCommandMs, () => {
        if (socket?.destroyed === true) return; // the client gave up (or the Mac went down)
        if (fault !== undefined) {
          if (fault === 'drop')
            channel.write(result.stdout.slice(0, Math.floor(result.stdout.length / 2)));
          setImmediate(() => socket?.destroy());
          return;
        }
        if (result.stdout !== '') channel.write(result.stdout);
        if (result.stderr !== '') channel.stderr.write(result.stderr);
        channel.exit(result.exitCode);
        channel.end();
      });
    };
    channel.on('error', () => undefined);
    channel.on('data', (data: Buffer) => {
      size += data.length;
      if (size > MAX_STDIN_BYTES) {
        done = true;
        channel.stderr.write('simulated Mac: stdin too large\n');
        channel.exit(1);
        channel.end();
        return;
      }
      chunks.push(data);
    });
    channel.on('end', run);
    // A command the protocol does not use reads no stdin: answer without waiting for EOF.
    if (parseBashCommand(command) === undefined) run();
  }
}

/**
 * An ed25519 key pair in OpenSSH format that ssh2 itself can parse: about 1 in 256 pairs from
 * ssh2.utils.generateKeyPairSync('ed25519') are malformed (a public key starting with a zero
 * byte loses it; mscdex/ssh2#1390), so those are drawn again.
 */
export function generateEd25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const keys = ssh2.utils.generateKeyPairSync('ed25519');
    const parsedPrivate = ssh2.utils.parseKey(keys.private);
    const parsedPublic = ssh2.utils.parseKey(keys.public);
    if (!(parsedPrivate instanceof Error) && !(parsedPublic instanceof Error)) return keys;
  }
}

/** `SHA256:<base64>` of an OpenSSH public key line, as ssh-keygen -l prints it. */
export function fingerprint(publicKeyLine: string): string {
  const blob = publicKeyLine.split(' ')[1] ?? '';
  return fingerprintOfBlob(Buffer.from(blob, 'base64'));
}

function fingerprintOfBlob(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
