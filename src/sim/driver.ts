// Keeps a world moving in real time: sleeps (one real timer) until the next scheduled transition
// is due at the clock's current speed, then lets the world apply it, so event listeners and
// scheduled actions (the simulated Macs) see their instant when it comes rather than at the next
// EC2 request.
// A paused clock (speed 0) arms no timer; `advance()` wakes the driver through the clock.

import type { VirtualClock } from './clock.js';
import type { SimWorld } from './world.js';

/** Re-check at least this often (real ms), so rounding or clock changes never strand a transition. */
const MAX_SLEEP_MS = 60_000;

export class TransitionDriver {
  readonly #world: SimWorld;
  readonly #clock: VirtualClock;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void)[] = [];
  #running = false;
  #pokeQueued = false;

  constructor(world: SimWorld, clock: VirtualClock) {
    this.#world = world;
    this.#clock = clock;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = [
      this.#world.subscribe(() => this.poke()),
      // Actions are often scheduled in bursts (a whole advance): re-arm once per burst.
      this.#world.onSchedule(() => {
        if (this.#pokeQueued) return;
        this.#pokeQueued = true;
        queueMicrotask(() => {
          this.#pokeQueued = false;
          this.poke();
        });
      }),
      this.#clock.onChange(() => {
        this.#world.sync();
        this.poke();
      }),
    ];
    this.poke();
  }

  /** Re-arms the timer for the world's next transition (call after out-of-band changes). */
  poke(): void {
    if (!this.#running) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.#world.nextTransitionAt();
    if (next === undefined) return;
    const delay = this.#clock.realDelayUntil(next.getTime());
    if (delay === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#world.sync();
        this.poke();
      },
      Math.min(Math.ceil(delay), MAX_SLEEP_MS),
    );
    this.#timer.unref();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
  }
}
