// Label sets by the bytes of their raw values, kept from batch to batch: a stream's labels
// are sanitised and turned into JSON once for the sink's life, not once per batch, and an
// entry finds its label set by hashing a few spans of its line and comparing bytes.
import { streamLabels, type LokiEncodeOptions } from './labels.js';

/** More distinct raw label sets than this (an app bug spraying hosts, say) and the table starts over. */
const MAX_KEYS = 50_000;

function grownInt32(a: Int32Array, size: number): Int32Array {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}

export class StreamKeys {
  readonly #o: LokiEncodeOptions;
  /** The current entry's raw label values, one component per label: `componentBuf[c][componentStart[c], componentEnd[c])`. */
  readonly componentBuf: Buffer[];
  readonly componentStart: Int32Array;
  readonly componentEnd: Int32Array;
  /** Per component: a level (its bytes are LEVEL_NAMES indexes), not text. */
  readonly #isLevel: readonly boolean[];
  readonly #levelNames: readonly string[];

  // Keys (each component as a 4-byte length and its bytes) in one buffer, found by hash.
  #keyBytes = Buffer.allocUnsafe(4096);
  #keyUsed = 0;
  #keyStart: Int32Array = new Int32Array(64);
  #keyHash: Int32Array = new Int32Array(64);
  count = 0;
  /** Open addressing: key index + 1, 0 for an empty slot. */
  #table: Int32Array = new Int32Array(256);

  /** Per key: its label set, sanitised and limited as Loki requires. */
  readonly labelsJson: string[] = [];
  sanitised: Uint8Array = new Uint8Array(64);
  limited: Uint8Array = new Uint8Array(64);
  /** Per key, for the encoder: the batch it last met the key in, and the key's stream in that batch. */
  batchOf: Int32Array = new Int32Array(64);
  streamOf: Int32Array = new Int32Array(64);

  constructor(o: LokiEncodeOptions, isLevel: readonly boolean[], levelNames: readonly string[], levelBytes: Buffer) {
    this.#o = o;
    this.#isLevel = isLevel;
    this.#levelNames = levelNames;
    this.componentBuf = o.labels.map(() => levelBytes);
    this.componentStart = new Int32Array(o.labels.length);
    this.componentEnd = new Int32Array(o.labels.length);
  }

  /** Call between batches only (key indexes must stay valid within one). */
  trim(): void {
    if (this.count < MAX_KEYS) return;
    this.#keyUsed = 0;
    this.count = 0;
    this.#table.fill(0);
    this.labelsJson.length = 0;
  }

  /** The index of the key spelled by the current components; a new key is made (and its labels worked out) the first time. */
  find(): number {
    const n = this.componentStart.length;
    let h = 0x811c9dc5 | 0;
    for (let c = 0; c < n; c++) {
      const buf = this.componentBuf[c]!;
      const end = this.componentEnd[c]!;
      let k = this.componentStart[c]!;
      h = Math.imul(h ^ (end - k), 0x01000193);
      for (; k < end; k++) h = Math.imul(h ^ buf[k]!, 0x01000193);
    }
    const mask = this.#table.length - 1;
    let slot = h & mask;
    for (;;) {
      const k = this.#table[slot]! - 1;
      if (k < 0) break;
      if (this.#keyHash[k] === h && this.#matches(k)) return k;
      slot = (slot + 1) & mask;
    }
    return this.#add(h);
  }

  /** Key `k`'s stored bytes are the current components. */
  #matches(k: number): boolean {
    const key = this.#keyBytes;
    let p = this.#keyStart[k]!;
    for (let c = 0; c < this.componentStart.length; c++) {
      const buf = this.componentBuf[c]!;
      const start = this.componentStart[c]!;
      const len = this.componentEnd[c]! - start;
      if (key.readInt32LE(p) !== len) return false;
      p += 4;
      for (let j = 0; j < len; j++) if (key[p + j] !== buf[start + j]) return false;
      p += len;
    }
    return true;
  }

  #add(h: number): number {
    const n = this.componentStart.length;
    const values: string[] = [];
    for (let c = 0; c < n; c++) {
      const start = this.componentStart[c]!;
      values.push(this.#isLevel[c] ? this.#levelNames[start]! : this.componentBuf[c]!.toString('utf8', start, this.componentEnd[c]!));
    }
    const labels = streamLabels(values, this.#o);

    const k = this.count++;
    if (k >= this.#keyStart.length) {
      const size = this.#keyStart.length * 2;
      this.#keyStart = grownInt32(this.#keyStart, size);
      this.#keyHash = grownInt32(this.#keyHash, size);
      this.batchOf = grownInt32(this.batchOf, size);
      this.streamOf = grownInt32(this.streamOf, size);
      const sanitised = new Uint8Array(size);
      sanitised.set(this.sanitised);
      this.sanitised = sanitised;
      const limited = new Uint8Array(size);
      limited.set(this.limited);
      this.limited = limited;
    }
    let size = 0;
    for (let c = 0; c < n; c++) size += 4 + this.componentEnd[c]! - this.componentStart[c]!;
    if (this.#keyUsed + size > this.#keyBytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#keyBytes.length * 2, this.#keyUsed + size));
      this.#keyBytes.copy(bigger, 0, 0, this.#keyUsed);
      this.#keyBytes = bigger;
    }
    this.#keyStart[k] = this.#keyUsed;
    for (let c = 0; c < n; c++) {
      const start = this.componentStart[c]!;
      const end = this.componentEnd[c]!;
      this.#keyBytes.writeInt32LE(end - start, this.#keyUsed);
      this.#keyUsed += 4;
      this.#keyUsed += this.componentBuf[c]!.copy(this.#keyBytes, this.#keyUsed, start, end);
    }
    this.#keyHash[k] = h;
    this.labelsJson[k] = labels.labelsJson;
    this.sanitised[k] = labels.sanitised ? 1 : 0;
    this.limited[k] = labels.limited ? 1 : 0;
    this.batchOf[k] = -1;
    if (this.count * 2 > this.#table.length) this.#rehash();
    else this.#insert(k);
    return k;
  }

  #insert(k: number): void {
    const mask = this.#table.length - 1;
    let slot = this.#keyHash[k]! & mask;
    while (this.#table[slot] !== 0) slot = (slot + 1) & mask;
    this.#table[slot] = k + 1;
  }

  #rehash(): void {
    this.#table = new Int32Array(this.#table.length * 2);
    for (let k = 0; k < this.count; k++) this.#insert(k);
  }
}
