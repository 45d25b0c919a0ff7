// The simulator's one clock: a discrete-event scheduler over virtual milliseconds. Events sit in a binary min-heap
// ordered by (time, sequence number), so events due at the same instant run in the order they were scheduled and a
// run is a pure function of its inputs (same seed, same trace). The heap lives in parallel arrays (no entry object
// per event); the callbacks themselves are the only per-event allocation and belong to the caller.

/** Why `run` returned. */
export type RunStop = "idle" | "until" | "max-events";

export interface RunOptions {
  /** Run events due at or before this virtual time (ms); the clock then stands at `until`. */
  readonly until?: number;
  /** Stop after this many events (a guard against a simulation that never quiesces). */
  readonly maxEvents?: number;
}

export interface RunResult {
  readonly stoppedBy: RunStop;
  readonly events: number;
  readonly now: number;
}

export type Scheduled = () => void;

export class EventClock {
  private nowMs = 0;
  private nextSeq = 0;
  private size = 0;
  private times: Float64Array = new Float64Array(64);
  private seqs: Float64Array = new Float64Array(64);
  private fns: (Scheduled | undefined)[] = [];

  /** Current virtual time in milliseconds. */
  get now(): number {
    return this.nowMs;
  }

  /** Events still waiting. */
  get pending(): number {
    return this.size;
  }

  /** Schedules `fn` at absolute virtual time `time`; a time in the past runs at the current time (never earlier). */
  at(time: number, fn: Scheduled): void {
    const t = time < this.nowMs || Number.isNaN(time) ? this.nowMs : time;
    if (this.size === this.times.length) this.grow();
    let i = this.size++;
    const seq = this.nextSeq++;
    // Sift up: move parents down until the slot for (t, seq) is found.
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(t, seq, this.times[p], this.seqs[p])) break;
      this.place(i, this.times[p], this.seqs[p], this.fns[p]!);
      i = p;
    }
    this.place(i, t, seq, fn);
  }

  /** Schedules `fn` `delay` ms from now. */
  after(delay: number, fn: Scheduled): void {
    this.at(this.nowMs + (delay > 0 ? delay : 0), fn);
  }

  /** Runs events in (time, insertion) order until none is left, `until` is passed, or `maxEvents` have run. */
  run(options: RunOptions = {}): RunResult {
    const until = options.until ?? Infinity;
    const max = options.maxEvents ?? Infinity;
    let events = 0;
    while (this.size > 0) {
      if (this.times[0] > until) {
        this.nowMs = until;
        return { stoppedBy: "until", events, now: this.nowMs };
      }
      if (events >= max) return { stoppedBy: "max-events", events, now: this.nowMs };
      this.nowMs = this.times[0];
      const fn = this.fns[0]!;
      this.popRoot();
      events++;
      fn();
    }
    if (until !== Infinity && until > this.nowMs) this.nowMs = until;
    return { stoppedBy: "idle", events, now: this.nowMs };
  }

  private before(t1: number, s1: number, t2: number, s2: number): boolean {
    return t1 < t2 || (t1 === t2 && s1 < s2);
  }

  private place(i: number, t: number, seq: number, fn: Scheduled): void {
    this.times[i] = t;
    this.seqs[i] = seq;
    this.fns[i] = fn;
  }

  private popRoot(): void {
    const last = --this.size;
    const t = this.times[last];
    const seq = this.seqs[last];
    const fn = this.fns[last];
    this.fns[last] = undefined;
    if (last === 0) return;
    // Sift down the former last element from the root.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const c = r < last && this.before(this.times[r], this.seqs[r], this.times[l], this.seqs[l]) ? r : l;
      if (!this.before(this.times[c], this.seqs[c], t, seq)) break;
      this.place(i, this.times[c], this.seqs[c], this.fns[c]!);
      i = c;
    }
    this.place(i, t, seq, fn!);
  }

  private grow(): void {
    const n = this.times.length * 2;
    const times = new Float64Array(n);
    const seqs = new Float64Array(n);
    times.set(this.times);
    seqs.set(this.seqs);
    this.times = times;
    this.seqs = seqs;
  }
}
