// The nightly use case (behavior.md §5.4), run under the pool lock: trim the cron log in place,
// rotate the audit log, prune known_hosts entries of instances that no longer exist, and delete
// old temp leftovers. One step's failure is logged and makes the exit code 4; the next steps run.
import type { Logger } from 'pino';
import type { DirEntryInfo } from '../core/nightly.js';
import {
  AUDIT_KEEP_SECONDS,
  goneInstanceIds,
  knownHostsInstanceIds,
  pruneKnownHosts,
  selectRecent,
  selectTmpLeftovers,
} from '../core/nightly.js';
import { formatUtc } from '../core/time.js';
import { AwsError } from '../errors.js';
import type { Ec2, Output, StateStore } from '../ports.js';

/** The file operations nightly needs beyond the state store. */
export interface NightlyFiles {
  /** Keeps the file from the offset `select` returns, in place (same inode); undefined: no file. */
  trimInPlace(
    path: string,
    select: (text: string) => number,
  ): Promise<{ bytesBefore: number; bytesAfter: number } | undefined>;
  listDir(dir: string): Promise<DirEntryInfo[]>;
  remove(path: string): Promise<void>;
  /** Wall-clock now of the file system, epoch ms: mtimes are compared with it, never virtual time. */
  fsNowMs(): number;
}

export interface NightlySettings {
  readonly logFile: string;
  readonly keepLogSeconds: number;
  readonly auditFile: string;
  readonly knownHostsFile: string;
  /** Directories searched for `*.tmp` leftovers (the state directory and its html/). */
  readonly tmpDirs: readonly string[];
}

export interface NightlyDeps {
  /** EC2, created only when known_hosts pins an instance. */
  readonly ec2: () => Promise<Ec2>;
  readonly store: StateStore;
  readonly files: NightlyFiles;
  readonly out: Output;
  readonly log: Logger;
}

export interface NightlyOutcome {
  readonly exitCode: 0 | 4;
  readonly logLinesDropped: number;
  readonly auditLinesDropped: number;
  readonly knownHostsPruned: readonly string[];
  readonly tmpRemoved: readonly string[];
  readonly failures: readonly string[];
}

/** File-system and AWS failures are a step's result (exit 4); anything else is a bug. */
function isOperational(error: unknown): boolean {
  return (
    error instanceof AwsError ||
    typeof (error as NodeJS.ErrnoException | undefined)?.code === 'string'
  );
}

export async function runNightly(
  settings: NightlySettings,
  deps: NightlyDeps,
  opts: { readonly nowS: number },
): Promise<NightlyOutcome> {
  const { log, out, store } = deps;
  const nowMs = opts.nowS * 1000;
  const failures: string[] = [];
  const step = async (name: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (error) {
      if (!isOperational(error)) throw error;
      failures.push(name);
      log.error(
        { step: name, err: error instanceof AwsError ? error.detail : (error as Error).message },
        'nightly step failed',
      );
    }
  };
  out.line(`nightly running at ${formatUtc(opts.nowS)}`);

  let logLinesDropped = 0;
  await step('log', async () => {
    const cutoffMs = nowMs - settings.keepLogSeconds * 1000;
    const result = await deps.files.trimInPlace(settings.logFile, (text) => {
      const sel = selectRecent(text, cutoffMs);
      logLinesDropped = sel.droppedLines;
      return sel.keepFrom;
    });
    if (result === undefined) log.info({ logFile: settings.logFile }, 'no log file to trim');
    else
      log.info(
        { logFile: settings.logFile, linesDropped: logLinesDropped, ...result },
        'log trimmed',
      );
    out.line('rotated log');
  });

  let auditLinesDropped = 0;
  await step('audit', async () => {
    const text = await store.read(settings.auditFile);
    if (text === undefined) return;
    const sel = selectRecent(text, nowMs - AUDIT_KEEP_SECONDS * 1000);
    if (sel.keepFrom === 0) return;
    auditLinesDropped = sel.droppedLines;
    // Atomic replace under the same name; the previous version stays as `audit.jsonl~`.
    await store.writeAtomic(settings.auditFile, text.slice(sel.keepFrom));
    log.info({ linesDropped: sel.droppedLines, linesKept: sel.keptLines }, 'audit log rotated');
  });

  let knownHostsPruned: readonly string[] = [];
  await step('known_hosts', async () => {
    const text = await store.read(settings.knownHostsFile);
    if (text === undefined) return;
    const pinned = knownHostsInstanceIds(text);
    if (pinned.length === 0) return;
    // One DescribeInstances (instance-id filter, every state); if it fails, nothing is pruned.
    const described = await (await deps.ec2()).describeInstancesById(pinned);
    const gone = goneInstanceIds(pinned, described);
    if (gone.size === 0) return;
    const pruned = pruneKnownHosts(text, gone);
    await store.writeAtomic(settings.knownHostsFile, pruned.text);
    knownHostsPruned = pruned.removed;
    log.info({ pruned: pruned.removed, kept: pinned.length - gone.size }, 'known_hosts pruned');
  });

  const tmpRemoved: string[] = [];
  await step('tmp', async () => {
    for (const dir of settings.tmpDirs) {
      const leftovers = selectTmpLeftovers(await deps.files.listDir(dir), deps.files.fsNowMs());
      for (const name of leftovers) {
        const path = `${dir.replace(/\/+$/, '')}/${name}`;
        await deps.files.remove(path);
        tmpRemoved.push(path);
      }
    }
    if (tmpRemoved.length > 0) log.info({ removed: tmpRemoved }, 'temp leftovers removed');
  });

  return {
    exitCode: failures.length > 0 ? 4 : 0,
    logLinesDropped,
    auditLinesDropped,
    knownHostsPruned,
    tmpRemoved,
    failures,
  };
}
