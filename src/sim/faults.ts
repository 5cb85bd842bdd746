// Fault injection for the simulated EC2 endpoint. Each fault names an EC2 action (or "*") and a
// kind; every request it applies to consumes one of its `count` (no count = until cleared).
//
//   throttle   answer 503 RequestLimitExceeded (the SDK retries it as throttling)
//   5xx        answer 500 InternalError; with value "after" the action takes effect first and only
//              the answer is lost (what makes ClientToken idempotency matter)
//   capacity   RunInstances fails with InsufficientCapacityOnHost; value = a host id or Name tag
//              to target one host. With action "AllocateHosts": InsufficientHostCapacity
//   latencyMs  delay the answer by `value` real milliseconds

export const FAULT_KINDS = ['throttle', '5xx', 'capacity', 'latencyMs'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  /** An EC2 action name such as "RunInstances", or "*" for every action. */
  action: string;
  kind: FaultKind;
  value?: string | number | undefined;
  /** How many matching requests it affects; omitted = every one until cleared. */
  count?: number | undefined;
}

export interface Fault {
  id: number;
  action: string;
  kind: FaultKind;
  value: string | number | undefined;
  /** Remaining count (0 = used up, kept for inspection); undefined = unlimited. */
  remaining: number | undefined;
  /** Requests it has affected so far. */
  hits: number;
}

export class FaultSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultSpecError';
  }
}

export type ErrorFault = { kind: 'throttle' } | { kind: '5xx'; after: boolean };

export class FaultInjector {
  #faults: Fault[] = [];
  #nextId = 1;

  add(spec: FaultSpec): Fault {
    if (typeof spec.action !== 'string' || spec.action === '') {
      throw new FaultSpecError('fault.action must be an EC2 action name or "*"');
    }
    if (!FAULT_KINDS.includes(spec.kind)) {
      throw new FaultSpecError(`fault.kind must be one of ${FAULT_KINDS.join(', ')}`);
    }
    if (spec.count !== undefined && (!Number.isInteger(spec.count) || spec.count < 1)) {
      throw new FaultSpecError('fault.count must be an integer >= 1 (omit it for "until cleared")');
    }
    if (spec.kind === 'latencyMs') {
      const ms = Number(spec.value);
      if (spec.value === undefined || !Number.isFinite(ms) || ms < 0 || ms > 600_000) {
        throw new FaultSpecError('a latencyMs fault needs value = milliseconds (0..600000)');
      }
    }
    if (
      spec.kind === '5xx' &&
      spec.value !== undefined &&
      spec.value !== 'before' &&
      spec.value !== 'after'
    ) {
      throw new FaultSpecError('a 5xx fault takes value "before" (default) or "after"');
    }
    if (spec.kind === 'capacity' && spec.value !== undefined && typeof spec.value !== 'string') {
      throw new FaultSpecError('a capacity fault takes value = a host id or Name tag');
    }
    const fault: Fault = {
      id: this.#nextId++,
      action: spec.action,
      kind: spec.kind,
      value: spec.value,
      remaining: spec.count,
      hits: 0,
    };
    this.#faults.push(fault);
    return { ...fault };
  }

  list(): Fault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  clear(): number {
    const n = this.#faults.length;
    this.#faults = [];
    return n;
  }

  remove(id: number): boolean {
    const before = this.#faults.length;
    this.#faults = this.#faults.filter((f) => f.id !== id);
    return this.#faults.length < before;
  }

  /** Total injected latency for this request (each matching latency fault is consumed once). */
  takeLatencyMs(action: string): number {
    let total = 0;
    for (const f of this.#matching(action, 'latencyMs')) {
      this.#consume(f);
      total += Number(f.value);
    }
    return total;
  }

  /** The first matching throttle or 5xx fault, consumed; undefined when none applies. */
  takeError(action: string): ErrorFault | undefined {
    const f = this.#faults.find(
      (x) =>
        (x.kind === 'throttle' || x.kind === '5xx') && appliesTo(x, action) && x.remaining !== 0,
    );
    if (f === undefined) return undefined;
    this.#consume(f);
    return f.kind === 'throttle'
      ? { kind: 'throttle' }
      : { kind: '5xx', after: f.value === 'after' };
  }

  /** Whether a capacity fault fails this RunInstances onto `host` (consumed if so). */
  takeRunCapacity(host: { hostId: string; name: string | undefined }): boolean {
    const f = this.#faults.find(
      (x) =>
        x.kind === 'capacity' &&
        (x.action === '*' || x.action === 'RunInstances') &&
        x.remaining !== 0 &&
        (x.value === undefined || x.value === host.hostId || x.value === host.name),
    );
    if (f === undefined) return false;
    this.#consume(f);
    return true;
  }

  /** Whether a capacity fault (action "AllocateHosts") fails this AllocateHosts (consumed if so). */
  takeAllocateCapacity(): boolean {
    const f = this.#faults.find(
      (x) => x.kind === 'capacity' && x.action === 'AllocateHosts' && x.remaining !== 0,
    );
    if (f === undefined) return false;
    this.#consume(f);
    return true;
  }

  #matching(action: string, kind: FaultKind): Fault[] {
    return this.#faults.filter((f) => f.kind === kind && appliesTo(f, action) && f.remaining !== 0);
  }

  #consume(f: Fault): void {
    f.hits++;
    // An exhausted fault stays listed (remaining 0, with its hits) until cleared.
    if (f.remaining !== undefined) f.remaining--;
  }
}

function appliesTo(f: Fault, action: string): boolean {
  return f.action === '*' || f.action === action;
}
