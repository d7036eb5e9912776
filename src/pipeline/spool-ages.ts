// When the entries in a sink's spool arrived, oldest first, one slot per spooled batch. The
// spool keeps no arrival time on disk; it stores and gives back records in order, and
// entries leave it oldest first (delivered, evicted when full, skipped when damaged), so
// a FIFO of (arrival of the batch's first entry, entries left) consumed by count from the
// head says how old the oldest spooled entry is, and how old a record read back is.
export class SpoolAges {
  // A ring would save the shifts; batches are large enough that the queue stays short.
  readonly #arrivals: number[] = [];
  readonly #counts: number[] = [];
  #head = 0;

  /** `entries` stored, the first of them arrived at `receivedAtMs`. */
  push(receivedAtMs: number, entries: number): void {
    if (entries <= 0) return;
    this.#arrivals.push(receivedAtMs);
    this.#counts.push(entries);
  }

  /** `entries` left the spool from its head. */
  consume(entries: number): void {
    let n = entries;
    while (n > 0 && this.#head < this.#counts.length) {
      const left = this.#counts[this.#head]!;
      if (left > n) {
        this.#counts[this.#head] = left - n;
        return;
      }
      n -= left;
      this.#head++;
    }
    // Compact now and then rather than shifting on every consume.
    if (this.#head > 1024 && this.#head * 2 > this.#counts.length) {
      this.#arrivals.splice(0, this.#head);
      this.#counts.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Arrival of the oldest entry still in the spool; undefined when it is empty. */
  get oldestAtMs(): number | undefined {
    return this.#head < this.#arrivals.length ? this.#arrivals[this.#head] : undefined;
  }

  clear(): void {
    this.#arrivals.length = 0;
    this.#counts.length = 0;
    this.#head = 0;
  }
}
