/**
 * A deterministic discrete-event clock.
 *
 * Simulated time is a number of nanoseconds since power-on. Events fire in
 * order of time; events due at the same time fire in the order they were
 * scheduled (a sequence number breaks ties), so that the same program of
 * events gives the same history, bit for bit, on every run and host. The
 * clock never reads the wall clock and owns no randomness.
 */

export type EventId = number;

interface ClockEvent {
  at: number;
  seq: number;
  fn: () => void;
}

export class Clock {
  /** Simulated nanoseconds since power-on. Only advanced by run()/step(). */
  now = 0;
  private heap: ClockEvent[] = [];
  private seq = 0;
  private cancelled = new Set<number>();
  /** Events fired so far; for tests and loop guards. */
  fired = 0;

  /*
   * Schedule `fn` to run at absolute time `at`.
   * Requires: `at` is finite and not in the past.
   * Guarantees: an id for cancel(); events with equal `at` fire in
   * scheduling order.
   */
  at(at: number, fn: () => void): EventId {
    if (!Number.isFinite(at) || at < this.now) {
      throw new RangeError(`Clock.at: time ${at} is before now (${this.now}) or not finite`);
    }
    const ev: ClockEvent = { at, seq: this.seq++, fn };
    this.push(ev);
    return ev.seq;
  }

  /** Schedule `fn` after `delay` ns (delay >= 0). */
  after(delay: number, fn: () => void): EventId {
    return this.at(this.now + delay, fn);
  }

  /* Cancel a pending event; cancelling a fired or unknown event does nothing. */
  cancel(id: EventId): void {
    this.cancelled.add(id);
  }

  /** Pending events (cancelled ones included until they surface). */
  get pending(): number {
    return this.heap.length;
  }

  /*
   * Fire the earliest pending event. Returns false when none is left.
   * Guarantees: `now` never decreases.
   */
  step(): boolean {
    for (;;) {
      const ev = this.pop();
      if (ev === undefined) return false;
      if (this.cancelled.has(ev.seq)) {
        this.cancelled.delete(ev.seq);
        continue;
      }
      this.now = ev.at;
      this.fired++;
      ev.fn();
      return true;
    }
  }

  /*
   * Fire events until none is left, or until the next one lies beyond
   * `until`. `maxEvents` guards against a model that never quiesces.
   */
  run(until = Infinity, maxEvents = 1e8): void {
    let n = 0;
    while (this.heap.length > 0) {
      if (this.heap[0].at > until) return;
      if (!this.step()) return;
      if (++n > maxEvents) throw new Error(`Clock.run: more than ${maxEvents} events; the model does not quiesce`);
    }
  }

  private less(a: ClockEvent, b: ClockEvent): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(ev: ClockEvent): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): ClockEvent | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop() as ClockEvent;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
