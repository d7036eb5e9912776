// The memory that sinks' buffers may hold together. By default every sink draws on one
// budget, so a sink that is busy or behind can use what the others leave free; a sink
// configured with its own `<SINK>_BUFFER_MAX_BYTES` gets a budget of its own.
import { SlabPool } from './batch.js';

/** What the budget asks of a sink pipeline that holds more than its fair share. */
export interface BudgetMember {
  /** Bytes of entries this member holds in memory. */
  readonly heldBytes: number;
  /** Moves out (to its spool, else drops) one batch it is not sending right now; true when it moved one. */
  giveWay(): boolean;
}

export class BufferBudget {
  readonly limitBytes: number;
  /** Bytes of entries held by all members. */
  usedBytes = 0;
  /** Of those, bytes on their way to a spool: they leave memory once the disk has them. */
  spoolWriteBytes = 0;
  /** Entry bytes of the batches being encoded, sent or retried (from memory and from a spool). */
  inFlightBytes = 0;
  /** Free batch buffers, shared by the members (a free buffer is resident memory too). */
  readonly slabs: SlabPool;
  readonly #members = new Set<BudgetMember>();
  #reclaiming = false;
  #requestRoomWaiters: Array<() => void> = [];

  /** `maxFreeSlabs`: free batch buffers kept for reuse (about as many as the requests in flight at once). */
  constructor(limitBytes: number, maxFreeSlabs = 4) {
    this.limitBytes = limitBytes;
    this.slabs = new SlabPool(limitBytes, maxFreeSlabs);
  }

  join(member: BudgetMember): void {
    this.#members.add(member);
  }

  get members(): number {
    return this.#members.size;
  }

  /** What each member can count on when all are busy. */
  get fairShareBytes(): number {
    return this.limitBytes / Math.max(1, this.#members.size);
  }

  /**
   * The bound now: the limit, plus bytes being written to a spool (up to the limit again).
   * Refusing entries while spool appends are under way would drop them although the spool
   * has room (see ARCHITECTURE, "Memory first, disk as overflow").
   */
  get boundBytes(): number {
    return this.limitBytes + Math.min(this.spoolWriteBytes, this.limitBytes);
  }

  /**
   * A request for a batch of `bytes` may start: the batches in flight stay within half the
   * limit. Encoding a batch makes its body next to its entries (and a spool record is read
   * back into memory first): this bounds those copies, which the entry count above does not
   * see. Past it, batches wait queued, where memory pressure can still move them to a spool.
   */
  mayStartRequest(bytes: number): boolean {
    return this.inFlightBytes + bytes <= this.limitBytes / 2;
  }

  requestStarted(bytes: number): void {
    this.inFlightBytes += bytes;
  }

  requestDone(bytes: number): void {
    this.inFlightBytes -= bytes;
    if (this.#requestRoomWaiters.length > 0 && this.mayStartRequest(0)) {
      const waiters = this.#requestRoomWaiters;
      this.#requestRoomWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Calls `wake` once a request finishes with room for more (each waiter at most once per wait). */
  onRequestRoom(wake: () => void): void {
    if (!this.#requestRoomWaiters.includes(wake)) this.#requestRoomWaiters.push(wake);
  }

  /** Fits `need` more bytes now. */
  fits(need: number): boolean {
    return this.usedBytes + need <= this.boundBytes;
  }

  /**
   * Asks members holding more than their fair share (the largest first) to move batches
   * out until `need` fits. `asker` is never asked: it has done what it could itself.
   */
  reclaim(need: number, asker: BudgetMember): boolean {
    if (this.#reclaiming || this.#members.size < 2) return this.fits(need);
    this.#reclaiming = true;
    try {
      const fair = this.fairShareBytes;
      const over = [...this.#members].filter((m) => m !== asker && m.heldBytes > fair).sort((a, b) => b.heldBytes - a.heldBytes);
      for (const member of over) {
        while (!this.fits(need) && member.heldBytes > fair && member.giveWay()) {
          // giveWay moved a batch out; look again.
        }
        if (this.fits(need)) return true;
      }
      return this.fits(need);
    } finally {
      this.#reclaiming = false;
    }
  }
}
