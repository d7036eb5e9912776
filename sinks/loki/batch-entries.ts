// Per-entry state of the batch being encoded, by the entry's number in the batch, shared by
// the push writers (JSON and protobuf): one scan fills it, either writer reads it. Module
// scratch reused from batch to batch (encoding is synchronous), grown when a batch is bigger.

export let entryStream: Int32Array = new Int32Array(1024);
export let entrySecs: Float64Array = new Float64Array(1024);
export let entryNanos: Int32Array = new Int32Array(1024);
/** Start of the bytes the value's line is made from; negative: `-1 - i` for the builder's slowLines[i]. */
export let entryLineStart: Int32Array = new Int32Array(1024);
export let entryLineEnd: Int32Array = new Int32Array(1024);
/**
 * JSON line format: the message when it has no escapes and is long enough to copy natively
 * (start -1 otherwise). Message line format: start 1 when the line's raw bytes hold escapes.
 */
export let entryPlainStart: Int32Array = new Int32Array(1024);
export let entryPlainEnd: Int32Array = new Int32Array(1024);
/** The entry's structured metadata in the builder's metadata buffer (in the push format's own encoding). */
export let entryMetaStart: Int32Array = new Int32Array(1024);
export let entryMetaEnd: Int32Array = new Int32Array(1024);
/** Entries grouped by stream, each stream's in time order (see groupByStream). */
export let order: Int32Array = new Int32Array(1024);

export function growEntries(n: number): void {
  const size = Math.max(n, entryStream.length * 2);
  const grow32 = (a: Int32Array): Int32Array => {
    const b = new Int32Array(size);
    b.set(a);
    return b;
  };
  entryStream = grow32(entryStream);
  entryNanos = grow32(entryNanos);
  entryLineStart = grow32(entryLineStart);
  entryLineEnd = grow32(entryLineEnd);
  entryPlainStart = grow32(entryPlainStart);
  entryPlainEnd = grow32(entryPlainEnd);
  entryMetaStart = grow32(entryMetaStart);
  entryMetaEnd = grow32(entryMetaEnd);
  order = new Int32Array(size);
  const secs = new Float64Array(size);
  secs.set(entrySecs);
  entrySecs = secs;
}

/**
 * Fills `order` with the entries grouped by stream (a counting sort keeps batch order within
 * a stream), then sorts the streams not already in time order. Returns where each stream's
 * entries start in `order` (stream s: `[first[s], first[s + 1])`).
 */
export function groupByStream(count: number, streams: number, streamSize: Int32Array, streamSorted: Uint8Array): Int32Array {
  const firstOf = new Int32Array(streams + 1);
  for (let s = 0; s < streams; s++) firstOf[s + 1] = firstOf[s]! + streamSize[s]!;
  const cursor = firstOf.slice(0, streams);
  for (let e = 0; e < count; e++) order[cursor[entryStream[e]!]!++] = e;
  for (let s = 0; s < streams; s++) if (streamSorted[s] === 0) sortByTime(firstOf[s]!, firstOf[s + 1]!);
  return firstOf;
}

/** Entry `a` goes after entry `b`: a later timestamp, or the same one later in the batch. */
function after(a: number, b: number): boolean {
  const sa = entrySecs[a]!;
  const sb = entrySecs[b]!;
  if (sa !== sb) return sa > sb;
  const na = entryNanos[a]!;
  const nb = entryNanos[b]!;
  return na !== nb ? na > nb : a > b;
}

/**
 * Sorts order[first, end) by timestamp, ties in batch order (buildPush's stable sort). A
 * stream out of order is usually only a little out (entries of one instance a few
 * microseconds apart), so an insertion sort in place does it; one far out of order goes to
 * Array.prototype.sort once the shifting passes a few per entry.
 */
function sortByTime(first: number, end: number): void {
  let budget = (end - first) * 8;
  for (let k = first + 1; k < end; k++) {
    const e = order[k]!;
    let j = k - 1;
    while (j >= first && after(order[j]!, e)) {
      order[j + 1] = order[j]!;
      j--;
      if (--budget < 0) {
        order[j + 1] = e;
        const rest = Array.from(order.subarray(first, end));
        rest.sort((x, y) => (after(x, y) ? 1 : -1));
        order.set(rest, first);
        return;
      }
    }
    order[j + 1] = e;
  }
}

/** What a push writer reads of a batch's encoding state (besides the per-entry arrays above). */
export interface PushState {
  readonly ndjson: Buffer;
  readonly entryCount: number;
  readonly messageLines: boolean;
  /** Per stream: its label set as the JSON push's `stream` object. */
  readonly streamLabelsJson: readonly string[];
  /** Lines of entries that took the JSON.parse path (entryLineStart `-1 - i`). */
  readonly slowLines: readonly string[];
  /** The metadata buffer entryMetaStart/End index into; undefined without structured metadata. */
  readonly metaBuffer: Buffer | undefined;
  /** Groups the entries by stream into `order`; returns where each stream starts in it. */
  group(): Int32Array;
}
