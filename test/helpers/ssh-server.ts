// A tiny in-process ssh2 server on 127.0.0.1 port 0 (as ssh2's own tests do), with a host key
// generated at test time. Commands are answered by a handler; SFTP writes are kept in memory.
import { createServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { Connection, ServerChannel } from 'ssh2';
import { generateEd25519KeyPair } from '../../src/sim/index.js';

export interface ExecCall {
  readonly command: string;
  readonly stdin: string;
}
export type ExecHandler = (call: ExecCall, channel: ServerChannel) => void;

export function generateKey(): { private: string; public: string } {
  return generateEd25519KeyPair();
}

export interface TestSshServer {
  readonly port: number;
  readonly calls: ExecCall[];
  readonly files: Map<string, { data: Buffer; mode: number | undefined }>;
  readonly dirs: Map<string, number | undefined>;
  setHostKey(key: string): void;
  close(): Promise<void>;
}

export async function startTestSshServer(handler: ExecHandler): Promise<TestSshServer> {
  let hostKey = generateKey().private;
  const calls: ExecCall[] = [];
  const files = new Map<string, { data: Buffer; mode: number | undefined }>();
  const dirs = new Map<string, number | undefined>();
  const connections = new Set<Connection>();
  const sockets = new Set<Socket>();
  const onConnection = (client: Connection) => {
    connections.add(client);
    client.on('error', () => undefined);
    client.on('close', () => connections.delete(client));
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      if (ctx.signature === undefined) return ctx.accept();
      const key = ssh2.utils.parseKey(ctx.key.data);
      if (
        key instanceof Error ||
        !ctx.blob ||
        key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true
      )
        return ctx.reject();
      return ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acc, _rej, info) => {
          const channel = acc();
          const chunks: Buffer[] = [];
          channel.on('data', (d: Buffer) => chunks.push(d));
          channel.on('end', () => {
            const call = { command: info.command, stdin: Buffer.concat(chunks).toString('utf8') };
            calls.push(call);
            handler(call, channel);
          });
        });
        session.on('sftp', (acc) => {
          const sftp = acc();
          const handles = new Map<
            number,
            { path: string; mode: number | undefined; chunks: Buffer[] }
          >();
          let next = 1;
          const { STATUS_CODE } = ssh2.utils.sftp;
          sftp.on('OPEN', (reqid, filename, _flags, attrs) => {
            const h = next++;
            handles.set(h, { path: filename, mode: attrs.mode, chunks: [] });
            const buf = Buffer.alloc(4);
            buf.writeUInt32BE(h);
            sftp.handle(reqid, buf);
          });
          sftp.on('WRITE', (reqid, handle, _offset, data) => {
            handles.get(handle.readUInt32BE(0))?.chunks.push(Buffer.from(data));
            sftp.status(reqid, STATUS_CODE.OK);
          });
          sftp.on('CLOSE', (reqid, handle) => {
            const h = handles.get(handle.readUInt32BE(0));
            if (h) files.set(h.path, { data: Buffer.concat(h.chunks), mode: h.mode });
            handles.delete(handle.readUInt32BE(0));
            sftp.status(reqid, STATUS_CODE.OK);
          });
          sftp.on('FSETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK));
          sftp.on('MKDIR', (reqid, path, attrs) => {
            dirs.set(path, attrs.mode);
            sftp.status(reqid, STATUS_CODE.OK);
          });
          sftp.on('SETSTAT', (reqid, path, attrs) => {
            const f = files.get(path);
            if (f) f.mode = attrs.mode;
            else if (dirs.has(path)) dirs.set(path, attrs.mode);
            sftp.status(reqid, STATUS_CODE.OK);
          });
        });
      });
    });
  };
  // One ssh2 server per connection, so a test can swap the host key between connections.
  const net: NetServer = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    const server = new ssh2.Server({ hostKeys: [hostKey] }, onConnection);
    server.injectSocket(sock);
  });
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  return {
    port: (net.address() as AddressInfo).port,
    calls,
    files,
    dirs,
    setHostKey: (k) => {
      hostKey = k;
    },
    close: async () => {
      for (const c of connections) c.end();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => net.close(() => resolve()));
    },
  };
}

/** A TCP server that accepts and never says anything (an unreachable sshd). */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const net = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  return {
    port: (net.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => net.close(() => resolve()));
    },
  };
}
