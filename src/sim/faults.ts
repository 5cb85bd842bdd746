// Fault injection for the simulated EC2 endpoint and the simulated Macs. Each EC2 fault names an
// EC2 action (or "*") and a kind; every request it applies to consumes one of its `count` (no count
// = until cleared).
//
//   throttle   answer 503 RequestLimitExceeded (the SDK retries it as throttling)
//   5xx        answer 500 InternalError; with value "after" the action takes effect first and only
//              the answer is lost (what makes ClientToken idempotency matter)
//   capacity   RunInstances fails with InsufficientCapacityOnHost; value = a host id or Name tag
//              to target one host. With action "AllocateHosts": InsufficientHostCapacity
//   latencyMs  delay the answer by `value` real milliseconds
//
// Mac faults act on the simulated Macs (src/sim/mac); `target` (or, where the kind gives `value` no
// other meaning, `value`) names an instance id or Name tag, none = every Mac; `action` is ignored:
//
//   unreachable       accept TCP, never send the SSH banner (each connection uses one count)
//   hang              complete the handshake, never answer a command (each connection uses one)
//   drop              close the connection in the middle of the next command, with no exit status
//                     (each command uses one); value "before" drops it before the command runs,
//                     default "after" runs it and loses the rest of the answer
//   listener-crash    the running listener dies once (the supervisor restarts it); with value
//                     "persistent" it cannot start again until the fault is removed
//   supervisor-crash  the supervisor dies, the listener keeps running
//   host-key-change   the Mac presents a new host key from now on
//   setup-fail        the next setup fails; value = the reason written to .setup.failed
// The last four act once per count; their count defaults to 1 (persistent listener-crash: until
// removed). SSH latency is not a fault but a Mac setting (sshHandshakeMs, sshCommandMs in
// mac/settings.ts: startSimCloud({ macs }), POST /_sim/macs or /_sim/macs/<id|Name>).

export const EC2_FAULT_KINDS = ['throttle', '5xx', 'capacity', 'latencyMs'] as const;
export const MAC_FAULT_KINDS = [
  'unreachable',
  'hang',
  'drop',
  'listener-crash',
  'supervisor-crash',
  'host-key-change',
  'setup-fail',
] as const;
export const FAULT_KINDS = [...EC2_FAULT_KINDS, ...MAC_FAULT_KINDS] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type MacFaultKind = (typeof MAC_FAULT_KINDS)[number];

/** Mac faults that act once per count (count defaults to 1). */
const ONE_SHOT_MAC_KINDS: readonly MacFaultKind[] = [
  'listener-crash',
  'supervisor-crash',
  'host-key-change',
  'setup-fail',
];

export interface FaultSpec {
  /** An EC2 action name such as "RunInstances", or "*" for every action (Mac faults: optional). */
  action?: string | undefined;
  kind: FaultKind;
  value?: string | number | undefined;
  /** Mac faults: the instance id or Name tag it applies to (default: every Mac). */
  target?: string | undefined;
  /** How many matching requests it affects; omitted = every one until cleared. */
  count?: number | undefined;
}

export interface Fault {
  id: number;
  action: string;
  kind: FaultKind;
  value: string | number | undefined;
  /** Mac faults only: the instance id or Name it targets (absent = every Mac). */
  target?: string;
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

/** The identity a Mac fault's target is compared with. */
export interface MacRef {
  instanceId: string;
  name: string | undefined;
}

export type ErrorFault = { kind: 'throttle' } | { kind: '5xx'; after: boolean };

export class FaultInjector {
  #faults: Fault[] = [];
  #nextId = 1;
  readonly #listeners = new Set<() => void>();

  add(spec: FaultSpec): Fault {
    if (!FAULT_KINDS.includes(spec.kind)) {
      throw new FaultSpecError(`fault.kind must be one of ${FAULT_KINDS.join(', ')}`);
    }
    const mac = isMacKind(spec.kind);
    if (!mac && (typeof spec.action !== 'string' || spec.action === '')) {
      throw new FaultSpecError('fault.action must be an EC2 action name or "*"');
    }
    if (!mac && spec.target !== undefined) {
      throw new FaultSpecError('fault.target applies to Mac faults only');
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
    if (spec.target !== undefined && (typeof spec.target !== 'string' || spec.target === '')) {
      throw new FaultSpecError('fault.target must be an instance id or Name tag');
    }
    if (mac) checkMacValue(spec);
    const persistent = spec.kind === 'listener-crash' && spec.value === 'persistent';
    const fault: Fault = {
      id: this.#nextId++,
      action: spec.action ?? '*',
      kind: spec.kind,
      value: spec.value,
      ...(spec.target === undefined ? {} : { target: spec.target }),
      remaining:
        spec.count ??
        (!persistent && ONE_SHOT_MAC_KINDS.includes(spec.kind as MacFaultKind) ? 1 : undefined),
      hits: 0,
    };
    this.#faults.push(fault);
    this.#changed();
    return { ...fault };
  }

  /** Called after every add, remove and clear (the simulated Macs react); returns unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The first live Mac fault of this kind that targets `mac`, consumed; undefined when none. */
  takeMacFault(kind: MacFaultKind, mac: MacRef): Fault | undefined {
    const f = this.#faults.find((x) => x.kind === kind && x.remaining !== 0 && targets(x, mac));
    if (f === undefined) return undefined;
    this.#consume(f);
    return { ...f };
  }

  /** Whether a persistent listener-crash fault targeting `mac` is listed (never consumed). */
  listenerBlocked(mac: MacRef): boolean {
    return this.#faults.some(
      (x) => x.kind === 'listener-crash' && x.value === 'persistent' && targets(x, mac),
    );
  }

  list(): Fault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  clear(): number {
    const n = this.#faults.length;
    this.#faults = [];
    this.#changed();
    return n;
  }

  remove(id: number): boolean {
    const before = this.#faults.length;
    this.#faults = this.#faults.filter((f) => f.id !== id);
    const removed = this.#faults.length < before;
    if (removed) this.#changed();
    return removed;
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

  #changed(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #consume(f: Fault): void {
    f.hits++;
    // An exhausted fault stays listed (remaining 0, with its hits) until cleared.
    if (f.remaining !== undefined) f.remaining--;
  }
}

function appliesTo(f: Fault, action: string): boolean {
  return !isMacKind(f.kind) && (f.action === '*' || f.action === action);
}

export function isMacKind(kind: FaultKind): kind is MacFaultKind {
  return (MAC_FAULT_KINDS as readonly string[]).includes(kind);
}

/** The instance a Mac fault targets: `target`, else `value` where the kind gives it no meaning. */
function targetOf(f: Fault): string | undefined {
  if (f.target !== undefined) return f.target;
  const valueIsTarget =
    f.kind === 'unreachable' ||
    f.kind === 'hang' ||
    f.kind === 'supervisor-crash' ||
    f.kind === 'host-key-change';
  return valueIsTarget && typeof f.value === 'string' ? f.value : undefined;
}

function targets(f: Fault, mac: MacRef): boolean {
  const target = targetOf(f);
  return target === undefined || target === mac.instanceId || target === mac.name;
}

function checkMacValue(spec: FaultSpec): void {
  const v = spec.value;
  if (v !== undefined && typeof v !== 'string') {
    throw new FaultSpecError(`a ${spec.kind} fault takes a string value`);
  }
  if (spec.kind === 'drop' && v !== undefined && v !== 'before' && v !== 'after') {
    throw new FaultSpecError('a drop fault takes value "after" (default) or "before"');
  }
  if (spec.kind === 'listener-crash' && v !== undefined && v !== 'persistent') {
    throw new FaultSpecError('a listener-crash fault takes value "persistent" or none');
  }
  if (
    spec.kind === 'setup-fail' &&
    v !== undefined &&
    [...v].some((c) => c < ' ' || c === '\x7f')
  ) {
    throw new FaultSpecError('a setup-fail reason must be one line without control characters');
  }
}
