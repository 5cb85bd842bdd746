// How pw-pool authenticates over SSH (behavior.md §2, §4.1): the ssh-agent from SSH_AUTH_SOCK, or
// from the sh-syntax `ssh.agentEnvFile` when SSH_AUTH_SOCK is unset; or `ssh.identityFile`, an
// unencrypted key checked like a secret file. Key material never leaves this process's memory.
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { readSecretFile } from '../config/index.js';
import { PreconditionError } from '../errors.js';
import type { SshAuth } from './ssh.js';

/** Reads `SSH_AUTH_SOCK=…;` from an `ssh-agent -s` output file. */
export function parseAgentEnv(text: string): string | undefined {
  const m = /(?:^|[\s;])SSH_AUTH_SOCK=([^;\s]+)/.exec(text);
  return m?.[1]?.replace(/^['"]|['"]$/g, '');
}

/** The number of keys the ssh-agent at `socket` holds; 0 when it does not answer within 5 s. */
export function agentIdentityCount(socket: string): Promise<number> {
  return new Promise((resolve) => {
    const agent = new ssh2.OpenSSHAgent(socket);
    const timer = setTimeout(() => resolve(0), 5000);
    agent.getIdentities((err, keys) => {
      clearTimeout(timer);
      resolve(err ? 0 : (keys?.length ?? 0));
    });
  });
}

export function noAgentMessage(uid: number): string {
  return `Cannot access an ssh-agent. Please run 'ssh-agent -s > /run/user/${uid}/ssh-agent.env' and 'ssh-add /path/to/required/key'.`;
}

export interface SshAuthSettings {
  readonly identityFile: string | undefined;
  readonly agentEnvFile: string;
}

/**
 * Resolves the credentials and checks §4.1 precondition 3: an agent holding at least one key, or a
 * readable unencrypted identity file. Throws PreconditionError with the contract's message.
 */
export async function resolveSshAuth(
  settings: SshAuthSettings,
  env: NodeJS.ProcessEnv,
  uid: number,
): Promise<SshAuth> {
  let agentSocket =
    env.SSH_AUTH_SOCK !== undefined && env.SSH_AUTH_SOCK !== '' ? env.SSH_AUTH_SOCK : undefined;
  if (agentSocket === undefined) {
    try {
      agentSocket = parseAgentEnv(await readFile(settings.agentEnvFile, 'utf8'));
    } catch {
      agentSocket = undefined;
    }
  }
  if (agentSocket !== undefined && (await agentIdentityCount(agentSocket)) === 0)
    agentSocket = undefined;
  let privateKey: string | undefined;
  if (settings.identityFile !== undefined) {
    privateKey = await readSecretFile(settings.identityFile, 'ssh.identityFile');
    try {
      const parsed = ssh2.utils.parseKey(privateKey);
      if (parsed instanceof Error) throw parsed;
    } catch (error) {
      throw new PreconditionError(
        `ssh.identityFile ${settings.identityFile}: not an unencrypted private key (${(error as Error).message})`,
      );
    }
  }
  if (agentSocket === undefined && privateKey === undefined)
    throw new PreconditionError(noAgentMessage(uid));
  return { agentSocket, privateKey };
}
