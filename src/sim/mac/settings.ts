// The simulated Macs' tunables (virtual seconds unless the name says otherwise). Fleet-wide
// settings come from startSimCloud({ macs }) and POST /_sim/macs; a Mac can override any of them
// (POST /_sim/macs/<id|Name>). The two ssh*Ms settings are real-time SSH latency: they slow the
// wire, not the Mac's model, and apply from the next connection / command on.

import { z } from 'zod';

export interface MacSettings {
  /** Duration of a setup run (setup.sh) from start-setup to `.setup.done`. */
  setupSeconds: number;
  /** Each run lasts setupSeconds ± up to this much (seeded). */
  setupJitterSeconds: number;
  /** Mean task arrivals per hour while a listener is idle (Poisson; 0 = no tasks). */
  taskRatePerHour: number;
  /** Mean task duration; each task lasts 0.5..1.5 × this (seeded). */
  taskDurationSeconds: number;
  /** The supervisor's loop period: reaction to a dead listener, a tag or a config change. */
  supervisorPollSeconds: number;
  /** A started listener logs its registration line this long after it starts. */
  registrationDelaySeconds: number;
  /** shutdown.sh's sleep between two checks for a running job. */
  shutdownPollSeconds: number;
  /** Add log lines that must never be counted (spurious / failed-notify / untimed lines). */
  noiseLines: boolean;
  /** The upstream named in the cirrus registration line. */
  cirrusUpstream: string;
  /** The runner version a github-actions runner logs (setup's `version=` wins). */
  runnerVersion: string;
  /** Real milliseconds the sshd holds its banner after accepting a connection, so every SSH
   *  handshake takes at least this long (0 = none). */
  sshHandshakeMs: number;
  /** Real milliseconds between a command's end of input and its answer (exec requests), and
   *  before an SFTP subsystem start is confirmed (0 = none). */
  sshCommandMs: number;
}

export const DEFAULT_MAC_SETTINGS: Readonly<MacSettings> = Object.freeze({
  setupSeconds: 600,
  setupJitterSeconds: 60,
  taskRatePerHour: 1,
  taskDurationSeconds: 1200,
  supervisorPollSeconds: 10,
  registrationDelaySeconds: 2,
  shutdownPollSeconds: 60,
  noiseLines: true,
  cirrusUpstream: 'grpc.cirrus-ci.com:443',
  runnerVersion: '2.321.0',
  sshHandshakeMs: 0,
  sshCommandMs: 0,
});

const seconds = z.number().finite().min(0);
/** Real milliseconds of injected latency, as the EC2 latencyMs fault allows. */
const latencyMs = z.number().finite().min(0).max(600_000);

/** A patch of MacSettings, as the control API and startSimCloud accept it. */
export const macSettingsPatchSchema = z
  .object({
    setupSeconds: seconds.optional(),
    setupJitterSeconds: seconds.optional(),
    taskRatePerHour: z.number().finite().min(0).max(3600).optional(),
    taskDurationSeconds: z.number().finite().min(1).optional(),
    supervisorPollSeconds: z.number().finite().min(1).optional(),
    registrationDelaySeconds: seconds.optional(),
    shutdownPollSeconds: z.number().finite().min(1).optional(),
    noiseLines: z.boolean().optional(),
    cirrusUpstream: z
      .string()
      .regex(/^[A-Za-z0-9.-]+:[0-9]+$/)
      .optional(),
    runnerVersion: z
      .string()
      .regex(/^[0-9]+\.[0-9]+\.[0-9]+$/)
      .optional(),
    sshHandshakeMs: latencyMs.optional(),
    sshCommandMs: latencyMs.optional(),
  })
  .strict();

export type MacSettingsPatch = z.infer<typeof macSettingsPatchSchema>;

/** Validates a patch (RangeError on a bad value) and drops its undefined members. */
export function checkMacSettingsPatch(patch: unknown): Partial<MacSettings> {
  const parsed = macSettingsPatchSchema.safeParse(patch);
  if (!parsed.success) throw new RangeError(`mac settings: ${z.prettifyError(parsed.error)}`);
  const out: Partial<MacSettings> = {};
  for (const [key, value] of Object.entries(parsed.data)) {
    if (value !== undefined) Object.assign(out, { [key]: value });
  }
  return out;
}
