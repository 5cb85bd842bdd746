// Clock adapters: the system clock, and the simulated cloud's virtual clock read from its control
// API (`GET <endpoint>/_sim/clock`). Virtual LaunchTimes are only ever compared with the latter.
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../ports.js';

export class SystemClock implements Clock {
  now(): Promise<Date> {
    return Promise.resolve(new Date());
  }
  async sleep(seconds: number): Promise<void> {
    await delay(Math.max(0, seconds * 1000));
  }
}

interface SimClockReading {
  readonly now: Date;
  readonly speed: number;
}

/** Longest real wait between two readings, so a `POST /_sim/advance` is noticed quickly. */
const SIM_POLL_CAP_MS = 250;

export class SimClock implements Clock {
  constructor(
    private readonly endpoint: string,
    private readonly timeoutMs = 5_000,
  ) {}

  private async read(): Promise<SimClockReading> {
    const url = new URL('/_sim/clock', this.endpoint);
    let body: { now?: unknown; speed?: unknown };
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = (await res.json()) as { now?: unknown; speed?: unknown };
    } catch (error) {
      throw new Error(
        `Cannot read the simulated clock at ${url.href}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const now = typeof body.now === 'string' ? new Date(body.now) : new Date(NaN);
    if (Number.isNaN(now.getTime()))
      throw new Error(`The simulated clock at ${url.href} sent no time`);
    const speed = typeof body.speed === 'number' && body.speed > 0 ? body.speed : 1;
    return { now, speed };
  }

  async now(): Promise<Date> {
    return (await this.read()).now;
  }

  async sleep(seconds: number): Promise<void> {
    const start = await this.read();
    const target = start.now.getTime() + seconds * 1000;
    let reading = start;
    while (reading.now.getTime() < target) {
      const realMs = (target - reading.now.getTime()) / reading.speed;
      await delay(Math.max(1, Math.min(SIM_POLL_CAP_MS, realMs)));
      reading = await this.read();
    }
  }
}
