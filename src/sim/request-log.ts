// The log of every EC2 request the simulated cloud answered: what was sent (the parameters exactly
// as on the wire, e.g. `Filter.1.Name`) and what came back. Control-API calls are not logged.

export interface RequestLogEntry {
  /** 1, 2, 3, ... for the life of the server; clearing the log does not reset it. */
  seq: number;
  requestId: string;
  /** Virtual time when the request arrived (ISO-8601). */
  virtualTime: string;
  /** Real time when the request arrived (ISO-8601), for correlating with client logs. */
  realTime: string;
  /** The `Action` parameter ('' when the request had none). */
  action: string;
  params: Record<string, string>;
  status: number;
  /** The EC2 error code answered, when status ≥ 300. */
  errorCode?: string;
  errorMessage?: string;
  /** Injected faults that shaped this answer, e.g. `latencyMs:80`, `throttle`. */
  faults: string[];
  /** Real milliseconds from arrival to answer (including injected latency). */
  durationMs: number;
}

export class RequestLog {
  readonly #maxEntries: number;
  #entries: RequestLogEntry[] = [];
  #lastSeq = 0;

  /** Keeps the newest `maxEntries` (default 10000) so a long `sim serve` stays bounded. */
  constructor(maxEntries = 10_000) {
    this.#maxEntries = maxEntries;
  }

  /** Reserves the next sequence number (taken when the request arrives). */
  nextSeq(): number {
    return ++this.#lastSeq;
  }

  append(entry: RequestLogEntry): void {
    // Answers can overtake each other (injected latency); keep the log in arrival (seq) order.
    let at = this.#entries.length;
    while (at > 0 && (this.#entries[at - 1] as RequestLogEntry).seq > entry.seq) at--;
    this.#entries.splice(at, 0, entry);
    if (this.#entries.length > this.#maxEntries)
      this.#entries.splice(0, this.#entries.length - this.#maxEntries);
  }

  /** Entries with seq > `sinceSeq` (all when omitted), oldest first. */
  list(sinceSeq = 0): RequestLogEntry[] {
    return this.#entries.filter((e) => e.seq > sinceSeq).map((e) => structuredClone(e));
  }

  /** Forgets every entry; returns how many there were. */
  clear(): number {
    const n = this.#entries.length;
    this.#entries = [];
    return n;
  }
}
