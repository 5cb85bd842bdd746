// Shared set-up for the simulated-cloud tests: a paused simulated cloud on port 0 (virtual time
// moves only through advance), the real EC2 client pointed at it, and small assertion helpers.

import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EC2Client } from '@aws-sdk/client-ec2';
import { startSimCloud, type SimCloud, type StartSimCloudOptions } from '../../src/sim/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const START = new Date('2024-08-06T12:00:00.000Z');

/** Starts a simulated cloud (paused clock at START unless overridden) that closes with the test. */
export async function startSim(t: TestContext, opts: StartSimCloudOptions = {}): Promise<SimCloud> {
  const sim = await startSimCloud({ speed: 0, startTime: START, ...opts });
  t.after(() => sim.close());
  return sim;
}

export function ec2Client(sim: SimCloud, maxAttempts = 1): EC2Client {
  const client = new EC2Client({
    region: 'us-east-1',
    endpoint: sim.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts,
  });
  return client;
}

/** Asserts that `promise` rejects with an SDK error of this `name` (the EC2 error code). */
export async function rejectsWithCode(
  promise: Promise<unknown>,
  code: string,
  message?: string | RegExp,
): Promise<Error> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof Error, `expected an Error, got ${String(caught)}`);
  assert.equal(caught.name, code, `error name (message: ${caught.message})`);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else if (message instanceof RegExp) assert.match(caught.message, message);
  return caught;
}

export function hostIdByName(sim: SimCloud, name: string): string {
  const host = sim.world.host(name);
  assert.ok(host, `host ${name}`);
  return host.hostId;
}

/** The EC2 requests the sim logged for one action. */
export function logged(sim: SimCloud, action: string): ReturnType<SimCloud['requestLog']['list']> {
  return sim.requestLog.list().filter((e) => e.action === action);
}

export async function controlJson(
  sim: SimCloud,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(`${sim.endpoint}${path}`, init);
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as unknown };
}
