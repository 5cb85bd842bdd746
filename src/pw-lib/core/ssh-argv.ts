// The system `ssh` command line of `pw-pool ssh` (behavior.md §8.1). Pure: settings in, argv out.

export type HostKeyPolicy = 'accept-new' | 'strict' | 'insecure';

/** ssh.hostKeyPolicy → OpenSSH's StrictHostKeyChecking. */
export const STRICT_HOST_KEY_CHECKING: Readonly<Record<HostKeyPolicy, string>> = {
  'accept-new': 'accept-new',
  strict: 'yes',
  insecure: 'no',
};

export const VNC_PORT = 5900;

export interface SshArgvInput {
  readonly user: string;
  readonly port: number;
  readonly identityFile: string | undefined;
  readonly connectTimeoutSeconds: number;
  readonly hostKeyPolicy: HostKeyPolicy;
  /** The host-key alias: keys are pinned per instance id (R13). */
  readonly instanceId: string;
  readonly knownHostsPath: string;
  readonly dnsName: string;
  /** Forward local port 5900 to the Mac's screen sharing. */
  readonly vncForward: boolean;
  /** The remote command; empty for an interactive shell. ssh joins the words with spaces. */
  readonly command: readonly string[];
}

/**
 * The arguments after `ssh`. `--` ends ssh's options before the destination, so no word of the
 * remote command is ever read as an ssh option.
 */
export function buildSshArgv(input: SshArgvInput): string[] {
  const argv: string[] = [];
  if (input.vncForward) argv.push('-L', `${VNC_PORT}:localhost:${VNC_PORT}`);
  argv.push('-p', String(input.port));
  if (input.identityFile !== undefined) argv.push('-i', input.identityFile);
  argv.push(
    '-o',
    `ConnectTimeout=${input.connectTimeoutSeconds}`,
    '-o',
    `StrictHostKeyChecking=${STRICT_HOST_KEY_CHECKING[input.hostKeyPolicy]}`,
    '-o',
    `HostKeyAlias=${input.instanceId}`,
    '-o',
    `UserKnownHostsFile=${input.knownHostsPath}`,
    '--',
    `${input.user}@${input.dnsName}`,
    ...input.command,
  );
  return argv;
}

/** A word as a POSIX shell would need it to read it back (for the `+ ssh …` trace line). */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `+ ssh <args>`, printed to stderr before ssh runs (§8.1 step 2). */
export function sshTraceLine(argv: readonly string[]): string {
  return `+ ${['ssh', ...argv].map(shellWord).join(' ')}`;
}
