// `pw-pool allocate-test-host [--user <id>] [--dry-run]` (behavior.md §8.2).
// The test pool `<user>Testing` lives in `<stateDir>/test-pools/<id>` with its own overlay, lock,
// status files and audit log; its launches are launch-instances --force runs in this process.
import { join } from 'node:path';
import type { Command } from 'commander';
import { AUDIT_FILE, FileJournal } from '../../pw-lib/adapters/journal.js';
import { FileLock, LOCK_FILE } from '../../pw-lib/adapters/lock.js';
import { StateDir } from '../../pw-lib/adapters/state-dir.js';
import { allocateTestHost } from '../../pw-lib/app/allocate-test-host.js';
import type { TestLaunchAttempt } from '../../pw-lib/app/allocate-test-host.js';
import { launchInstances } from '../../pw-lib/app/launch-instances.js';
import {
  OVERLAY_FILE,
  buildTestOverlay,
  testHostName,
  testIdOf,
  testStateDirOf,
} from '../../pw-lib/core/test-host.js';
import { parseIsoStrict, toEpochSeconds } from '../../pw-lib/core/time.js';
import { ConfigError, PreconditionError, UsageError } from '../../pw-lib/errors.js';
import type { Journal } from '../../pw-lib/ports.js';
import { NO_JOURNAL } from '../../pw-lib/ports.js';
import type { RunContext } from '../context.js';
import { createContext } from '../context.js';
import type { CommandResult, GlobalOptions } from '../context.js';
import { launchSettings } from './launch-instances.js';

interface Options extends GlobalOptions {
  readonly user?: string;
}

/**
 * The test pool's own run context: the production config with the overlay applied last, as
 * `pw-pool --overlay <p> …` will load it. `--state-dir` is left out: a flag beats overlays, and the
 * test pool's state directory is the overlay's.
 */
async function testPoolContext(globals: Options, overlayPath: string): Promise<RunContext> {
  const testGlobals: GlobalOptions = {
    ...(globals.config !== undefined ? { config: globals.config } : {}),
    overlay: [...(globals.overlay ?? []), overlayPath],
    ...(globals.logLevel !== undefined ? { logLevel: globals.logLevel } : {}),
    ...(globals.now !== undefined ? { now: globals.now } : {}),
  };
  return createContext(testGlobals, { mutating: true });
}

export async function runAllocateTestHost(
  ctx: RunContext,
  globals: Options,
  id: string,
  dryRun: boolean,
): Promise<number> {
  const az = ctx.config.testHost.availabilityZone;
  if (az === undefined) {
    throw new ConfigError([
      'testHost.availabilityZone is not set: allocate-test-host needs the availability zone of its dedicated host (e.g. "us-east-1a"; env PW_POOL_TEST_HOST_AVAILABILITY_ZONE)',
    ]);
  }
  const testStateDir = testStateDirOf(ctx.config.stateDir, id);
  const overlay = buildTestOverlay({
    id,
    launchTemplateName: ctx.config.launchTemplateName,
    testStateDir,
  });
  const testStore = new StateDir(testStateDir);
  const overlayPath = testStore.pathOf(OVERLAY_FILE);
  const journal: Journal = dryRun
    ? NO_JOURNAL
    : new FileJournal({
        path: join(testStateDir, AUDIT_FILE),
        command: 'allocate-test-host',
        clock: ctx.clock,
        log: ctx.log,
      });
  const ec2 = await ctx.ec2();
  const name = testHostName(id);
  let testCtx: RunContext | undefined;
  const launch = async (): Promise<TestLaunchAttempt> => {
    testCtx ??= await testPoolContext(globals, overlayPath);
    if (testCtx.config.stateDir !== testStateDir) {
      throw new PreconditionError(
        `the test pool's configuration resolves stateDir to ${testCtx.config.stateDir}, not ${testStateDir}`,
      );
    }
    const fixed = globals.now === undefined ? undefined : parseIsoStrict(globals.now);
    const outcome = await launchInstances(
      launchSettings(testCtx.config, testCtx.pool),
      {
        ec2,
        clock: ctx.clock,
        store: testCtx.store,
        out: ctx.out,
        log: ctx.log.child({ testPool: id }),
        rng: Math.random,
        journal,
      },
      { nowS: fixed ?? toEpochSeconds(await ctx.clock.now()), force: true, dryRun: false },
    );
    const entry = outcome.blocks.find((b) => b.kind === 'entry' && b.name === name);
    return {
      exitCode: outcome.exitCode,
      instanceId: entry?.kind === 'entry' ? entry.instanceId : undefined,
    };
  };
  const run = () =>
    allocateTestHost(
      {
        id,
        purposeTagKey: ctx.config.purposeTagKey,
        availabilityZone: az,
        retrySeconds: ctx.config.testHost.retrySeconds,
        overlay,
      },
      { ec2, clock: ctx.clock, testStore, out: ctx.out, log: ctx.log, journal, launch },
      { dryRun },
    );
  try {
    if (dryRun) return (await run()).exitCode;
    // The test pool's lock (§5.1), not production's.
    const handle = await new FileLock({
      path: join(testStateDir, LOCK_FILE),
      waitSeconds: ctx.config.cron.lockWaitSeconds,
      log: ctx.log,
    }).acquire();
    try {
      return (await run()).exitCode;
    } finally {
      await handle.release();
    }
  } finally {
    await testCtx?.close();
  }
}

export function registerAllocateTestHost(program: Command, result: CommandResult): void {
  program
    .command('allocate-test-host')
    .description(
      'allocate (or reuse) a dedicated host for a personal test pool <user>Testing and launch on it',
    )
    .option('--user <id>', 'test pool owner (default: $USER); only letters and digits are kept')
    .option('--dry-run', 'look up the host and print what would be done; change nothing')
    .action(async (_opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<Options>();
      const dryRun = globals.dryRun === true;
      const id = testIdOf(globals.user, process.env.USER);
      if (!id.ok) throw new UsageError(id.problem);
      const ctx = await createContext(globals, { mutating: true });
      try {
        result.exitCode = await runAllocateTestHost(ctx, globals, id.id, dryRun);
      } finally {
        await ctx.close();
      }
    });
}
