// The system `ssh` client for `pw-pool ssh` (behavior.md §8.1): runs it with the terminal inherited
// and returns its exit code; checks whether a local port is free for the VNC forward.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { constants } from 'node:os';

/** Runs `ssh argv…` with stdio inherited; resolves with ssh's exit code (128+n after signal n). */
export function runSystemSsh(argv: readonly string[], bin = 'ssh'): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...argv], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== null) resolve(code);
      else resolve(128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}

/** Whether `port` on 127.0.0.1 can be listened on right now (ssh -L binds the loopback address). */
export function isLocalPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
