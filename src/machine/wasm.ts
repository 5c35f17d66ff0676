/**
 * The bulk-memory kernel of the backing store: a tiny WebAssembly module,
 * assembled here by hand, one instance per shared memory.
 *
 * Why WebAssembly: `memory.fill` and `memory.copy` compile to calls of the C
 * library's memset/memmove, which run at the speed of the machine, while
 * `TypedArray.prototype.fill` on a SharedArrayBuffer goes through V8's relaxed
 * atomic byte loops and is several times slower. The scans (is-zero, pattern
 * check) are 64-bytes-per-iteration v128 loops.
 *
 * The module, in WAT. Addresses and lengths are u32 (JS passes them through
 * ToInt32; the bits are the same). No function handles a length of 2^32: the
 * callers in backing.ts split work into chunks of at most 1 GiB. Scans return
 * an offset relative to `p`, which therefore fits an i32, or -1.
 *
 *   (module
 *     (import "env" "mem" (memory 1 65536 shared))
 *
 *     ;; memset(dst, byte, n)
 *     (func (export "fill") (param $dst i32) (param $byte i32) (param $n i32)
 *       (memory.fill (local.get $dst) (local.get $byte) (local.get $n)))
 *
 *     ;; memmove(dst, src, n)
 *     (func (export "copy") (param $dst i32) (param $src i32) (param $n i32)
 *       (memory.copy (local.get $dst) (local.get $src) (local.get $n)))
 *
 *     ;; offset of the first non-zero byte of [p, p+n), or -1
 *     (func (export "firstNonZero") (param $p i32) (param $n i32) (result i32)
 *       (local $i i32)
 *       (local.set $i (local.get $p))
 *       (block $scalar
 *         (loop $vector
 *           (br_if $scalar (i32.lt_u (local.get $n) (i32.const 64)))
 *           (br_if $scalar (v128.any_true
 *             (v128.or (v128.or (v128.load offset=0 (local.get $i)) (v128.load offset=16 (local.get $i)))
 *                      (v128.or (v128.load offset=32 (local.get $i)) (v128.load offset=48 (local.get $i))))))
 *           (local.set $i (i32.add (local.get $i) (i32.const 64)))
 *           (local.set $n (i32.sub (local.get $n) (i32.const 64)))
 *           (br $vector)))
 *       ;; at most 64 bytes left, or the 64-byte block holding the first non-zero byte
 *       (block $done
 *         (loop $bytes
 *           (br_if $done (i32.eqz (local.get $n)))
 *           (if (i32.load8_u (local.get $i))
 *             (then (return (i32.sub (local.get $i) (local.get $p)))))
 *           (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *           (local.set $n (i32.sub (local.get $n) (i32.const 1)))
 *           (br $bytes)))
 *       (i32.const -1))
 *
 *     ;; Fill [p, p+n) with the little-endian u32 $pat anchored at offset 0:
 *     ;; the byte at offset a is byte (a mod 4) of $pat.
 *     (func (export "fillPattern") (param $p i32) (param $n i32) (param $pat i32)
 *       (local $v v128)
 *       (block $aligned                                   ;; bytes up to 16-alignment
 *         (loop $head
 *           (br_if $aligned (i32.eqz (local.get $n)))
 *           (br_if $aligned (i32.eqz (i32.and (local.get $p) (i32.const 15))))
 *           (i32.store8 (local.get $p)
 *             (i32.shr_u (local.get $pat) (i32.shl (i32.and (local.get $p) (i32.const 3)) (i32.const 3))))
 *           (local.set $p (i32.add (local.get $p) (i32.const 1)))
 *           (local.set $n (i32.sub (local.get $n) (i32.const 1)))
 *           (br $head)))
 *       (local.set $v (i32x4.splat (local.get $pat)))     ;; p is 16-aligned: phase 0
 *       (block $vectors_done
 *         (loop $vectors
 *           (br_if $vectors_done (i32.lt_u (local.get $n) (i32.const 64)))
 *           (v128.store offset=0 (local.get $p) (local.get $v))
 *           (v128.store offset=16 (local.get $p) (local.get $v))
 *           (v128.store offset=32 (local.get $p) (local.get $v))
 *           (v128.store offset=48 (local.get $p) (local.get $v))
 *           (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *           (local.set $n (i32.sub (local.get $n) (i32.const 64)))
 *           (br $vectors)))
 *       (block $done                                      ;; the last < 64 bytes
 *         (loop $tail
 *           (br_if $done (i32.eqz (local.get $n)))
 *           (i32.store8 (local.get $p)
 *             (i32.shr_u (local.get $pat) (i32.shl (i32.and (local.get $p) (i32.const 3)) (i32.const 3))))
 *           (local.set $p (i32.add (local.get $p) (i32.const 1)))
 *           (local.set $n (i32.sub (local.get $n) (i32.const 1)))
 *           (br $tail))))
 *
 *     ;; Offset of the first byte of [p, p+n) that differs from the pattern
 *     ;; fillPattern writes, or -1.
 *     (func (export "checkPattern") (param $p i32) (param $n i32) (param $pat i32) (result i32)
 *       (local $i i32) (local $v v128)
 *       (local.set $i (local.get $p))
 *       (block $aligned
 *         (loop $head
 *           (br_if $aligned (i32.eqz (local.get $n)))
 *           (br_if $aligned (i32.eqz (i32.and (local.get $i) (i32.const 15))))
 *           (if (i32.ne (i32.load8_u (local.get $i))
 *                       (i32.and (i32.shr_u (local.get $pat) (i32.shl (i32.and (local.get $i) (i32.const 3)) (i32.const 3)))
 *                                (i32.const 255)))
 *             (then (return (i32.sub (local.get $i) (local.get $p)))))
 *           (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *           (local.set $n (i32.sub (local.get $n) (i32.const 1)))
 *           (br $head)))
 *       (local.set $v (i32x4.splat (local.get $pat)))
 *       (block $scalar
 *         (loop $vectors
 *           (br_if $scalar (i32.lt_u (local.get $n) (i32.const 64)))
 *           (br_if $scalar (v128.any_true
 *             (v128.or (v128.or (v128.xor (v128.load offset=0 (local.get $i)) (local.get $v))
 *                               (v128.xor (v128.load offset=16 (local.get $i)) (local.get $v)))
 *                      (v128.or (v128.xor (v128.load offset=32 (local.get $i)) (local.get $v))
 *                               (v128.xor (v128.load offset=48 (local.get $i)) (local.get $v))))))
 *           (local.set $i (i32.add (local.get $i) (i32.const 64)))
 *           (local.set $n (i32.sub (local.get $n) (i32.const 64)))
 *           (br $vectors)))
 *       (block $done
 *         (loop $bytes
 *           (br_if $done (i32.eqz (local.get $n)))
 *           (if (i32.ne (i32.load8_u (local.get $i))
 *                       (i32.and (i32.shr_u (local.get $pat) (i32.shl (i32.and (local.get $i) (i32.const 3)) (i32.const 3)))
 *                                (i32.const 255)))
 *             (then (return (i32.sub (local.get $i) (local.get $p)))))
 *           (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *           (local.set $n (i32.sub (local.get $n) (i32.const 1)))
 *           (br $bytes)))
 *       (i32.const -1)))
 *
 * The pattern is anchored to the offset in the memory, not to the start of
 * the range; memories start at page-aligned physical addresses, so it is
 * anchored to the physical address too, and a range split at a memory
 * boundary needs no re-phasing.
 */

/** The exports of one instance; all lengths below 2^32, see above. */
export interface BulkOps {
  fill(dst: number, byte: number, n: number): void;
  copy(dst: number, src: number, n: number): void;
  firstNonZero(p: number, n: number): number;
  fillPattern(p: number, n: number, pattern: number): void;
  checkPattern(p: number, n: number, pattern: number): number;
}

// ---- opcodes ---------------------------------------------------------------
const I32 = 0x7f;
const V128 = 0x7b;
const VOID = 0x40; // empty block type
const BLOCK = 0x02;
const LOOP = 0x03;
const IF = 0x04;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const RETURN = 0x0f;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_LOAD8_U = 0x2d;
const I32_STORE8 = 0x3a;
const I32_CONST = 0x41;
const I32_EQZ = 0x45;
const I32_NE = 0x47;
const I32_LT_U = 0x49;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_AND = 0x71;
const I32_SHL = 0x74;
const I32_SHR_U = 0x76;
const MISC = 0xfc; // prefix: 0x0a memory.copy, 0x0b memory.fill
const SIMD = 0xfd; // prefix: 0x00 v128.load, 0x0b v128.store, 0x11 i32x4.splat, 0x50 or, 0x51 xor, 0x53 any_true

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const get = (i: number): number[] => [LOCAL_GET, i];
const set = (i: number): number[] => [LOCAL_SET, i];
const i32c = (v: number): number[] => [I32_CONST, ...sleb(v)];
/** memarg: alignment hint 1 byte (any address is legal), constant offset. */
const memarg = (offset: number): number[] => [0, ...uleb(offset)];
const v128load = (offset: number): number[] => [SIMD, 0x00, ...memarg(offset)];
const v128store = (offset: number): number[] => [SIMD, 0x0b, ...memarg(offset)];
const V128_OR = [SIMD, 0x50];
const V128_XOR = [SIMD, 0x51];
const V128_ANY_TRUE = [SIMD, 0x53];
const I32X4_SPLAT = [SIMD, 0x11];
/** local[x] += k (k may be negative). */
const bump = (x: number, k: number): number[] => [...get(x), ...i32c(k), I32_ADD, ...set(x)];
/** The pattern byte for the address in local `a`: pat >> ((a & 3) << 3). */
const patByte = (pat: number, a: number): number[] => [...get(pat), ...get(a), ...i32c(3), I32_AND, ...i32c(3), I32_SHL, I32_SHR_U];

function body(locals: Array<[number, number]>, code: number[]): number[] {
  const decl = [...uleb(locals.length), ...locals.flatMap(([count, type]) => [...uleb(count), type])];
  const all = [...decl, ...code, END];
  return [...uleb(all.length), ...all];
}

// fill(dst, byte, n)
const FILL = body([], [...get(0), ...get(1), ...get(2), MISC, 0x0b, 0x00]);

// copy(dst, src, n)
const COPY = body([], [...get(0), ...get(1), ...get(2), MISC, 0x0a, 0x00, 0x00]);

// firstNonZero(p=0, n=1) locals: i=2
const FIRST_NON_ZERO = body(
  [[1, I32]],
  [
    ...get(0), ...set(2),
    BLOCK, VOID, // $scalar
    LOOP, VOID, // $vector
    ...get(1), ...i32c(64), I32_LT_U, BR_IF, 1,
    ...get(2), ...v128load(0), ...get(2), ...v128load(16), ...V128_OR,
    ...get(2), ...v128load(32), ...get(2), ...v128load(48), ...V128_OR, ...V128_OR,
    ...V128_ANY_TRUE, BR_IF, 1,
    ...bump(2, 64), ...bump(1, -64),
    BR, 0,
    END, END,
    BLOCK, VOID, // $done
    LOOP, VOID, // $bytes
    ...get(1), I32_EQZ, BR_IF, 1,
    ...get(2), I32_LOAD8_U, ...memarg(0),
    IF, VOID, ...get(2), ...get(0), I32_SUB, RETURN, END,
    ...bump(2, 1), ...bump(1, -1),
    BR, 0,
    END, END,
    ...i32c(-1),
  ],
);

// fillPattern(p=0, n=1, pat=2) locals: v=3
const storePatByte = (p: number): number[] => [...get(p), ...patByte(2, p), I32_STORE8, ...memarg(0)];
const FILL_PATTERN = body(
  [[1, V128]],
  [
    BLOCK, VOID, // $aligned
    LOOP, VOID, // $head
    ...get(1), I32_EQZ, BR_IF, 1,
    ...get(0), ...i32c(15), I32_AND, I32_EQZ, BR_IF, 1,
    ...storePatByte(0),
    ...bump(0, 1), ...bump(1, -1),
    BR, 0,
    END, END,
    ...get(2), ...I32X4_SPLAT, ...set(3),
    BLOCK, VOID, // $vectors_done
    LOOP, VOID, // $vectors
    ...get(1), ...i32c(64), I32_LT_U, BR_IF, 1,
    ...get(0), ...get(3), ...v128store(0),
    ...get(0), ...get(3), ...v128store(16),
    ...get(0), ...get(3), ...v128store(32),
    ...get(0), ...get(3), ...v128store(48),
    ...bump(0, 64), ...bump(1, -64),
    BR, 0,
    END, END,
    BLOCK, VOID, // $done
    LOOP, VOID, // $tail
    ...get(1), I32_EQZ, BR_IF, 1,
    ...storePatByte(0),
    ...bump(0, 1), ...bump(1, -1),
    BR, 0,
    END, END,
  ],
);

// checkPattern(p=0, n=1, pat=2) -> i32; locals: i=3, v=4
const mismatchReturn = [
  ...get(3), I32_LOAD8_U, ...memarg(0),
  ...patByte(2, 3), ...i32c(255), I32_AND,
  I32_NE,
  IF, VOID, ...get(3), ...get(0), I32_SUB, RETURN, END,
];
const xorV = (offset: number): number[] => [...get(3), ...v128load(offset), ...get(4), ...V128_XOR];
const CHECK_PATTERN = body(
  [[1, I32], [1, V128]],
  [
    ...get(0), ...set(3),
    BLOCK, VOID, // $aligned
    LOOP, VOID, // $head
    ...get(1), I32_EQZ, BR_IF, 1,
    ...get(3), ...i32c(15), I32_AND, I32_EQZ, BR_IF, 1,
    ...mismatchReturn,
    ...bump(3, 1), ...bump(1, -1),
    BR, 0,
    END, END,
    ...get(2), ...I32X4_SPLAT, ...set(4),
    BLOCK, VOID, // $scalar
    LOOP, VOID, // $vectors
    ...get(1), ...i32c(64), I32_LT_U, BR_IF, 1,
    ...xorV(0), ...xorV(16), ...V128_OR, ...xorV(32), ...xorV(48), ...V128_OR, ...V128_OR,
    ...V128_ANY_TRUE, BR_IF, 1,
    ...bump(3, 64), ...bump(1, -64),
    BR, 0,
    END, END,
    BLOCK, VOID, // $done
    LOOP, VOID, // $bytes
    ...get(1), I32_EQZ, BR_IF, 1,
    ...mismatchReturn,
    ...bump(3, 1), ...bump(1, -1),
    BR, 0,
    END, END,
    ...i32c(-1),
  ],
);

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}
function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

const EXPORTS: Array<[string, number[]]> = [
  ['fill', FILL],
  ['copy', COPY],
  ['firstNonZero', FIRST_NON_ZERO],
  ['fillPattern', FILL_PATTERN],
  ['checkPattern', CHECK_PATTERN],
];
// type 0: (i32 i32 i32) -> ()   type 1: (i32 i32) -> i32   type 2: (i32 i32 i32) -> i32
const TYPES = [
  [0x60, 3, I32, I32, I32, 0],
  [0x60, 2, I32, I32, 1, I32],
  [0x60, 3, I32, I32, I32, 1, I32],
];
const FUNC_TYPES = [0, 0, 1, 0, 2];

/** The module's bytes. */
export const BULK_WASM: Uint8Array = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, vec(TYPES)),
  // import env.mem: memory, limits flag 0x03 = has maximum + shared, min 1, max 65536
  ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x03, ...uleb(1), ...uleb(65536)]])),
  ...section(3, vec(FUNC_TYPES.map((t) => [t]))),
  ...section(7, vec(EXPORTS.map(([n], i) => [...name(n), 0x00, i]))),
  ...section(10, vec(EXPORTS.map(([, b]) => b))),
]);

// The project compiles against lib ES2022 without DOM, which does not declare
// the WebAssembly namespace; these are the few parts used here, taken from
// globalThis so that nothing clashes if a DOM lib is added later.
/** A WebAssembly.Memory. */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(deltaPages: number): number;
}
type WasmModule = object;
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Bytes in a WebAssembly page, the unit of memory sizes. */
export const WASM_PAGE_SIZE = 65536;
/** Largest wasm32 memory: 65536 pages, 4 GiB. */
export const WASM_MAX_PAGES = 65536;

/** WebAssembly.validate of the module; true on every engine with bulk memory and SIMD. */
export function validateBulkModule(): boolean {
  return WA.validate(BULK_WASM);
}

/**
 * Creates a shared memory of `pages` 64 KiB pages, all of them usable at once.
 * The engine reserves and commits address space, but the OS backs a page
 * only when it is first written: an untouched memory costs no RSS.
 * Requires: 1 <= pages <= 65536. Throws the engine's RangeError when the
 * address space cannot be had.
 */
export function newSharedMemory(pages: number): WasmMemory {
  return new WA.Memory({ initial: pages, maximum: pages, shared: true });
}

let compiled: WasmModule | undefined;

/**
 * The compiled module, compiled once per thread on first use (synchronous
 * compilation of a few hundred bytes takes microseconds).
 */
function bulkModule(): WasmModule {
  if (compiled === undefined) compiled = new WA.Module(BULK_WASM);
  return compiled;
}

/**
 * Instantiates the module over `memory`.
 * Requires: `memory` is a shared memory with a declared maximum (the import
 * is declared shared; a non-shared memory fails to link).
 */
export function bulkOps(memory: WasmMemory): BulkOps {
  const instance = new WA.Instance(bulkModule(), { env: { mem: memory } });
  return instance.exports as unknown as BulkOps;
}
