// Values kept outside V8's heap.
//
// A value held as a string lives on V8's heap, which V8 lets grow to twice
// its live data between full collections (node/cli/heap-growth.ts), and
// which young-generation collections copy once or twice before it settles
// in the old generation. Values are most of a store's bytes (a 256-byte
// value is a 272-byte string; the rest of its key's record is about 160), so
// they live here instead: in fixed-size slots carved from 64 KiB slabs
// (ArrayBuffers, which V8 neither copies nor lets grow with the heap). A
// history names its value by a ref, a small integer (a Smi in the history's
// array, no heap object per value).
//
// Slots come in size classes: every multiple of 8 bytes up to 512, then
// steps of about an eighth up to 32 KiB. A freed slot is reused by the next
// value of its class, and a slab whose slots are all free again goes back,
// so what is held follows the live values of each class, not everything
// ever written. A value too large for any class gets a buffer of its own.
//
// A ref stays valid until free(ref); views returned by view() alias the
// slab, so a caller that keeps bytes past the next write copies them.

/** Names one stored value. EMPTY_VALUE is the empty value, which takes no slot. */
export type ValueRef = number;
export const EMPTY_VALUE: ValueRef = -1;

const SLAB_BYTES = 64 * 1024;
/** A ref is a slab number and an 8-byte unit within the slab. */
const UNIT_SHIFT = 3;
const UNITS_SHIFT = 13; // 64 KiB / 8
const UNITS_MASK = (1 << UNITS_SHIFT) - 1;
/** Refs stay under 2^31 (Smis), so at most 2^18 slabs: 16 GiB of slotted values. */
const MAX_SLABS = 2 ** (31 - UNITS_SHIFT);
/** A slot starts with its value's length. */
const LENGTH_BYTES = 4;

const CLASS_SIZES: readonly number[] = (() => {
  const sizes: number[] = [];
  for (let s = 8; s <= 512; s += 8) sizes.push(s);
  for (let s = 512; s < 32 * 1024; ) {
    s = Math.min(32 * 1024, (Math.ceil((s * 1.125) / 8) * 8));
    sizes.push(s);
  }
  return sizes;
})();
const LARGEST_SLOT = CLASS_SIZES[CLASS_SIZES.length - 1]!;

/** The class whose slots are the smallest that hold `slotBytes` (a multiple of 8). */
function classOf(slotBytes: number): number {
  if (slotBytes <= 512) return (slotBytes >>> UNIT_SHIFT) - 1;
  let lo = 64;
  let hi = CLASS_SIZES.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (CLASS_SIZES[mid]! >= slotBytes) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Where a slotted value's slot starts in its slab. */
const slotAt = (ref: ValueRef): number => (ref & UNITS_MASK) << UNIT_SHIFT;

interface SizeClass {
  readonly index: number;
  readonly slotBytes: number;
  readonly slotsPerSlab: number;
  /** Free slots of this class's slabs, reused last freed first. */
  free: ValueRef[];
  /** The slab slots are cut from when none is free (-1: none yet), and the next unit in it. */
  slab: number;
  nextUnit: number;
  /** Slabs of this class whose slots are all free, not yet given back. */
  emptySlabs: number;
}

export class ValueSlabs {
  private readonly slabs: (Buffer | undefined)[] = [];
  private readonly slabClass: number[] = [];
  private readonly slabUsed: number[] = [];
  private readonly spareSlabNumbers: number[] = [];
  private readonly classes: SizeClass[] = CLASS_SIZES.map((slotBytes, index) => ({
    index,
    slotBytes,
    slotsPerSlab: Math.floor(SLAB_BYTES / slotBytes),
    free: [],
    slab: -1,
    nextUnit: 0,
    emptySlabs: 0,
  }));
  private readonly large: (Buffer | undefined)[] = [];
  private readonly spareLargeNumbers: number[] = [];
  private live = 0;
  private slabCount = 0;
  private largeHeld = 0;

  /** Stores a copy of `bytes` (a string is taken as latin1, one byte per character). */
  store(bytes: Uint8Array | string): ValueRef {
    const length = bytes.length;
    if (length === 0) return EMPTY_VALUE;
    this.live += length;
    const slotBytes = (LENGTH_BYTES + length + 7) & ~7;
    if (slotBytes > LARGEST_SLOT) return this.storeLarge(bytes);
    const ref = this.allocate(this.classes[classOf(slotBytes)]!);
    const slab = this.slabOf(ref);
    const at = slotAt(ref);
    slab.writeUInt32LE(length, at);
    if (typeof bytes === 'string') slab.write(bytes, at + LENGTH_BYTES, length, 'latin1');
    else slab.set(bytes, at + LENGTH_BYTES);
    return ref;
  }

  /** Gives a value's slot back; `ref` must not be used again. */
  free(ref: ValueRef): void {
    if (ref === EMPTY_VALUE) return;
    this.live -= this.length(ref);
    if (ref < EMPTY_VALUE) {
      const n = -ref - 2;
      this.largeHeld -= this.large[n]!.length;
      this.large[n] = undefined;
      this.spareLargeNumbers.push(n);
      return;
    }
    const slab = ref >>> UNITS_SHIFT;
    const cls = this.classes[this.slabClass[slab]!]!;
    cls.free.push(ref);
    if (--this.slabUsed[slab]! === 0 && slab !== cls.slab) {
      cls.emptySlabs += 1;
      // Given back in batches, once they hold at least half the class's free slots.
      if (cls.emptySlabs >= 4 && cls.emptySlabs * cls.slotsPerSlab * 2 >= cls.free.length) this.releaseEmptySlabs(cls);
    }
  }

  length(ref: ValueRef): number {
    if (ref === EMPTY_VALUE) return 0;
    if (ref < EMPTY_VALUE) return this.large[-ref - 2]!.length;
    return this.slabOf(ref).readUInt32LE(slotAt(ref));
  }

  /** The value's bytes, aliasing the slab: valid until the ref is freed. */
  view(ref: ValueRef): Buffer {
    if (ref === EMPTY_VALUE) return EMPTY;
    if (ref < EMPTY_VALUE) return this.large[-ref - 2]!;
    const slab = this.slabOf(ref);
    const at = slotAt(ref) + LENGTH_BYTES;
    return slab.subarray(at, at + slab.readUInt32LE(at - LENGTH_BYTES));
  }

  /** Copies the value into `target` at `offset` (which must have room) and returns its length. */
  copyInto(ref: ValueRef, target: Uint8Array, offset: number): number {
    if (ref === EMPTY_VALUE) return 0;
    if (ref < EMPTY_VALUE) {
      const large = this.large[-ref - 2]!;
      target.set(large, offset);
      return large.length;
    }
    const slab = this.slabOf(ref);
    const at = slotAt(ref);
    const length = slab.readUInt32LE(at);
    // A plain view over the slab's own buffer (offset 0): cheaper than a Buffer's subarray.
    target.set(new Uint8Array(slab.buffer, at + LENGTH_BYTES, length), offset);
    return length;
  }

  /** The value as a latin1 string (one character per byte). */
  string(ref: ValueRef): string {
    if (ref === EMPTY_VALUE) return '';
    return this.view(ref).toString('latin1');
  }

  /** Bytes of values stored. */
  get liveBytes(): number {
    return this.live;
  }

  /** Bytes held for them: whole slabs, and the buffers of large values. */
  get heldBytes(): number {
    return this.slabCount * SLAB_BYTES + this.largeHeld;
  }

  private slabOf(ref: ValueRef): Buffer {
    return this.slabs[ref >>> UNITS_SHIFT]!;
  }

  private allocate(cls: SizeClass): ValueRef {
    const reused = cls.free.pop();
    if (reused !== undefined) {
      const slab = reused >>> UNITS_SHIFT;
      // A slab counted empty is in use again.
      if (this.slabUsed[slab]++ === 0 && slab !== cls.slab) cls.emptySlabs -= 1;
      return reused;
    }
    const units = cls.slotBytes >>> UNIT_SHIFT;
    if (cls.slab < 0 || cls.nextUnit + units > SLAB_BYTES >>> UNIT_SHIFT) {
      // The slab slots were cut from is full: its count now decides as any other's.
      if (cls.slab >= 0 && this.slabUsed[cls.slab] === 0) cls.emptySlabs += 1;
      cls.slab = this.newSlab(cls.index);
      cls.nextUnit = 0;
    }
    const ref = (cls.slab << UNITS_SHIFT) | cls.nextUnit;
    cls.nextUnit += units;
    this.slabUsed[cls.slab]! += 1;
    return ref;
  }

  private newSlab(classIndex: number): number {
    const n = this.spareSlabNumbers.pop() ?? this.slabs.length;
    if (n >= MAX_SLABS) throw new Error(`values: more than ${MAX_SLABS * SLAB_BYTES} bytes of slotted values`);
    this.slabs[n] = Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.slabClass[n] = classIndex;
    this.slabUsed[n] = 0;
    this.slabCount += 1;
    return n;
  }

  /** Drops the class's slabs with no slot in use, and their slots from its free list. */
  private releaseEmptySlabs(cls: SizeClass): void {
    cls.free = cls.free.filter((ref) => {
      const slab = ref >>> UNITS_SHIFT;
      if (this.slabUsed[slab] !== 0 || slab === cls.slab) return true;
      if (this.slabs[slab] !== undefined) {
        this.slabs[slab] = undefined;
        this.spareSlabNumbers.push(slab);
        this.slabCount -= 1;
      }
      return false;
    });
    cls.emptySlabs = 0;
  }

  private storeLarge(bytes: Uint8Array | string): ValueRef {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
    const n = this.spareLargeNumbers.pop() ?? this.large.length;
    this.large[n] = buf;
    this.largeHeld += buf.length;
    return -n - 2;
  }
}

const EMPTY = Buffer.alloc(0);
