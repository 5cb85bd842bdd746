// The simulated cloud's virtual clock. Virtual time starts at a given instant and runs at `speed` ×
// real (monotonic) time; `advance()` jumps forward. Everything in the simulator reads this clock;
// nothing in src/sim compares virtual timestamps with the real wall clock.

export interface VirtualClockOptions {
  /** Virtual start instant (default: the real current time). */
  start?: Date;
  /** Virtual seconds per real second (default 1; 0 = paused, time moves only by `advance`). */
  speed?: number;
  /** Monotonic real-time source in milliseconds (default `performance.now`); injectable for tests. */
  realNowMs?: () => number;
}

export type ClockListener = (change: { kind: 'advance' | 'speed'; nowMs: number }) => void;

export class VirtualClock {
  readonly #realNowMs: () => number;
  #anchorVirtualMs: number;
  #anchorRealMs: number;
  #speed: number;
  readonly #listeners = new Set<ClockListener>();

  constructor(options: VirtualClockOptions = {}) {
    this.#realNowMs = options.realNowMs ?? (() => performance.now());
    this.#speed = checkSpeed(options.speed ?? 1);
    this.#anchorVirtualMs = (options.start ?? new Date()).getTime();
    if (!Number.isFinite(this.#anchorVirtualMs))
      throw new RangeError('clock start is not a valid date');
    this.#anchorRealMs = this.#realNowMs();
  }

  /** Current virtual time in epoch milliseconds. */
  nowMs(): number {
    return this.#anchorVirtualMs + (this.#realNowMs() - this.#anchorRealMs) * this.#speed;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  get speed(): number {
    return this.#speed;
  }

  /** Changes the rate from now on; virtual time never jumps when the speed changes. */
  setSpeed(speed: number): void {
    this.#reanchor();
    this.#speed = checkSpeed(speed);
    this.#emit('speed');
  }

  /** Jumps virtual time forward by `seconds` (≥ 0) and returns the new virtual now. */
  advance(seconds: number): Date {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new RangeError(`advance needs a finite number of seconds >= 0, got ${seconds}`);
    }
    this.#reanchor();
    this.#anchorVirtualMs += seconds * 1000;
    this.#emit('advance');
    return this.now();
  }

  /**
   * Real milliseconds until virtual time reaches `virtualMs` at the current speed: 0 if it has
   * passed, undefined when the clock is paused (it will only get there through `advance`).
   */
  realDelayUntil(virtualMs: number): number | undefined {
    const remaining = virtualMs - this.nowMs();
    if (remaining <= 0) return 0;
    if (this.#speed === 0) return undefined;
    return remaining / this.#speed;
  }

  /** Called after every `advance` and `setSpeed`; returns the unsubscribe function. */
  onChange(listener: ClockListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #reanchor(): void {
    const real = this.#realNowMs();
    this.#anchorVirtualMs += (real - this.#anchorRealMs) * this.#speed;
    this.#anchorRealMs = real;
  }

  #emit(kind: 'advance' | 'speed'): void {
    const nowMs = this.nowMs();
    for (const listener of [...this.#listeners]) listener({ kind, nowMs });
  }
}

function checkSpeed(speed: number): number {
  if (!Number.isFinite(speed) || speed < 0) {
    throw new RangeError(`clock speed must be a finite number >= 0, got ${speed}`);
  }
  return speed;
}
