// node --expose-gc bench.mjs
//
// The JavaScript Yjs half of scripts/bench-vs-yjs: the four operations of
// crdt/benches/board.rs, on a document of the same schema (SCHEMA.md) with
// the same elements, counts, batches and ids, done by npm `yjs` alone.
//
// - build_100k: a fresh doc (meta in its own transaction, as Board::new
//   does), then 100 transactions of 1,000 elements each. Per group of ten:
//   five stickies with text (palette fill), three shapes with text (outline
//   cycling through every shape kind), two connectors bound right -> left to
//   a sticky and a shape of the previous batch (free ends in the first
//   batch). A bound end stores the anchor's position, read from the bound
//   element in the doc, as Board::create_many does. `z` keys come from the
//   same generator as crdt/src/zorder.rs (key_between(top, None)).
// - encode_100k: Y.encodeStateAsUpdate of the loaded board.
// - load_100k: a new Y.Doc and Y.applyUpdate of those bytes, plus the checks
//   file::load_bytes makes (nothing pending, looks like a board).
// - apply_10k_remote_moves: 10,000 updates made by a second replica (client
//   2), each one transaction moving one sticky or shape by (12, -7), captured
//   with doc.on('update'); applied one by one to a freshly loaded replica.
//   Loading is setup, not timed.
//
// Each operation runs once to warm up, then TOUCHPOINT_BENCH_REPS times
// (default 10); with --expose-gc a full GC runs before each timed repetition,
// outside the timing. Output: JSON lines on stdout, one for the fixtures and
// one per operation: {"op", "median_ms", "min_ms", "max_ms", "reps",
// "samples_ms"}. Sizes: TOUCHPOINT_BENCH_ELEMENTS (default 100000, a multiple
// of 1,000) and TOUCHPOINT_BENCH_MOVES (default 10000), as in the Rust bench;
// TOUCHPOINT_BENCH_SAVE=PATH writes the fixture board to PATH.
//
// Keep this file in step with crdt/benches/board.rs (and the z-key generator
// with crdt/src/zorder.rs): the point is the same document and operations.

import * as Y from 'yjs'
import { readFileSync, writeFileSync } from 'node:fs'

const BATCH = 1000
const COLUMNS = 300
const CELL = 250
const BUILDER_CLIENT = 1
const MOVER_CLIENT = 2
const REMOTE_ORIGIN = 'touchpoint:remote'
const SHAPES = ['rect', 'rounded_rect', 'ellipse', 'diamond', 'triangle']
const PALETTE = ['#fff9b1', '#f5d128', '#d5f692', '#c9df56', '#a6ccf5', '#67c6c0', '#f16c7f', '#ea94bb']

function envCount (name, dflt) {
  const v = process.env[name]
  if (v === undefined) return dflt
  const n = Number(v.trim())
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${JSON.stringify(v)} is not a count`)
  return n
}

const elementsCount = envCount('TOUCHPOINT_BENCH_ELEMENTS', 100000)
const movesCount = envCount('TOUCHPOINT_BENCH_MOVES', 10000)
const reps = envCount('TOUCHPOINT_BENCH_REPS', 10)
if (elementsCount < BATCH || elementsCount % BATCH !== 0) {
  throw new Error(`TOUCHPOINT_BENCH_ELEMENTS must be a positive multiple of ${BATCH}`)
}
if (movesCount < 1 || movesCount > elementsCount / 10) {
  throw new Error('TOUCHPOINT_BENCH_MOVES must be between 1 and a tenth of the elements')
}
if (reps < 1) throw new Error('TOUCHPOINT_BENCH_REPS must be at least 1')

const label = n => (n % 1000 === 0 ? `${n / 1000}k` : `${n}`)

// z keys: crdt/src/zorder.rs key_between(Some(top), None) for a valid key
// (base-62 digits after an implied "0.", no trailing 0), and key_between(None,
// None) = "V" for the first element.
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
function zAfter (top) {
  if (top === null) return 'V'
  // crdt/src/zorder.rs: one unit of the 4th base-62 digit, with carry.
  const d = [...top].map(c => DIGITS.indexOf(c))
  while (d.length < 4) d.push(0)
  let i = d.length
  while (i > 0) {
    i--
    if (d[i] + 1 < 62) { d[i]++; break }
    d[i] = 0
  }
  while (d.length > 0 && d[d.length - 1] === 0) d.pop()
  return d.map(x => DIGITS[x]).join('')
}

const cell = i => [(i % COLUMNS) * CELL, Math.floor(i / COLUMNS) * CELL]
const elementId = (client, counter) => `${client.toString(16)}-${counter.toString(16)}`

/** A new doc with the board's roots; a random client id unless one is given. */
function newDoc (clientID) {
  const doc = new Y.Doc()
  if (clientID !== undefined) doc.clientID = clientID
  return { doc, elements: doc.getMap('elements'), meta: doc.getMap('meta') }
}

/** Where a bound end sits: the anchor of the element's (unrotated) box. */
function anchorPoint (elements, id, anchor) {
  const m = elements.get(id)
  const [x, y, w, h] = ['x', 'y', 'w', 'h'].map(k => m.get(k))
  return anchor === 'right' ? [x + w, y + h / 2] : [x, y + h / 2]
}

/** Builds the benchmark board; returns the doc and its element ids in order. */
function build () {
  const { doc, elements, meta } = newDoc(BUILDER_CLIENT)
  doc.transact(() => {
    meta.set('schema', 1)
    meta.set('title', 'Untitled board')
  }, 'touchpoint:init')
  const ids = []
  let top = null
  let counter = 0
  const origin = `touchpoint:local:${BUILDER_CLIENT}`
  for (let start = 0; start < elementsCount; start += BATCH) {
    doc.transact(() => {
      for (let i = start; i < start + BATCH; i++) {
        const [x, y] = cell(i)
        let fields
        const g = i % 10
        if (g <= 4) {
          fields = {
            kind: 'sticky',
            x,
            y,
            w: 200,
            h: 200,
            rot: 0,
            fill: PALETTE[i % 8],
            text: new Y.Text(`Note ${i}: the form asks for my address twice`)
          }
        } else if (g <= 7) {
          fields = {
            kind: 'shape',
            x,
            y: y + 50,
            w: 160,
            h: 100,
            rot: 0,
            shape: SHAPES[i % 5],
            text: new Y.Text(`Step ${i}`)
          }
        } else if (i >= BATCH) {
          const from = ids[i - BATCH - 5]
          const to = ids[i - BATCH - 2]
          const [fx, fy] = anchorPoint(elements, from, 'right')
          const [tx, ty] = anchorPoint(elements, to, 'left')
          fields = {
            kind: 'connector',
            from_id: from,
            from_anchor: 'right',
            from_x: fx,
            from_y: fy,
            to_id: to,
            to_anchor: 'left',
            to_x: tx,
            to_y: ty,
            arrow_start: 'none',
            arrow_end: 'arrow'
          }
        } else {
          fields = {
            kind: 'connector',
            from_x: x,
            from_y: y + 100,
            to_x: x + 200,
            to_y: y + 100,
            arrow_start: 'none',
            arrow_end: 'arrow'
          }
        }
        top = zAfter(top)
        fields.z = top
        const id = elementId(BUILDER_CLIENT, ++counter)
        const map = new Y.Map()
        elements.set(id, map)
        for (const key in fields) map.set(key, fields[key])
        ids.push(id)
      }
    }, origin)
  }
  return { doc, ids }
}

/** Opens board bytes as file::load_bytes does (random client id). */
function load (bytes) {
  const { doc, elements, meta } = newDoc()
  Y.applyUpdate(doc, bytes)
  if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) {
    throw new Error('incomplete update')
  }
  if (!meta.has('schema') && elements.size === 0) throw new Error('not a board')
  return doc
}

const moveTarget = j => Math.floor(j * (elementsCount / 10) / movesCount) * 10 + (j % 8)

/** The remote moves: one transaction, one update v1 each. */
function remoteMoves (encoded, ids) {
  const { doc: mover, elements } = newDoc(MOVER_CLIENT)
  Y.applyUpdate(mover, encoded, REMOTE_ORIGIN)
  const updates = []
  mover.on('update', u => updates.push(u))
  const origin = `touchpoint:local:${MOVER_CLIENT}`
  for (let j = 0; j < movesCount; j++) {
    const id = ids[moveTarget(j)]
    mover.transact(() => {
      const m = elements.get(id)
      if (m.get('kind') === 'connector') throw new Error('moves target stickies and shapes')
      m.set('x', m.get('x') + 12)
      m.set('y', m.get('y') - 7)
    }, origin)
  }
  mover.destroy()
  if (updates.length !== movesCount) throw new Error('one update per move')
  return updates
}

const gc = globalThis.gc ?? (() => {})

/**
 * Times `routine(setup())` once to warm up and `reps` times; `setup` is not
 * timed. Returns the summary line.
 */
function measure (op, routine, setup = () => undefined) {
  routine(setup())
  const samples = []
  for (let r = 0; r < reps; r++) {
    const input = setup()
    gc()
    const t0 = process.hrtime.bigint()
    const out = routine(input)
    const t1 = process.hrtime.bigint()
    samples.push(Number(t1 - t0) / 1e6)
    if (out === undefined) throw new Error(`${op} returned nothing`)
  }
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  const line = {
    op,
    median_ms: median,
    min_ms: sorted[0],
    max_ms: sorted[sorted.length - 1],
    reps,
    samples_ms: samples.map(s => Math.round(s * 1000) / 1000)
  }
  console.log(JSON.stringify(line))
  return line
}

const n = label(elementsCount)
const m = label(movesCount)

// Shared fixtures, outside any timing.
const built = build()
const ids = built.ids
const encoded = Y.encodeStateAsUpdate(built.doc)
built.doc.destroy()
if (process.env.TOUCHPOINT_BENCH_SAVE) writeFileSync(process.env.TOUCHPOINT_BENCH_SAVE, encoded)
const updates = remoteMoves(encoded, ids)
console.log(JSON.stringify({
  fixtures: {
    elements: elementsCount,
    moves: movesCount,
    encoded_bytes: encoded.length,
    update_bytes: updates.reduce((s, u) => s + u.length, 0),
    yjs: JSON.parse(readFileSync(new URL('./node_modules/yjs/package.json', import.meta.url))).version,
    node: process.version,
    gc_between_reps: globalThis.gc !== undefined
  }
}))

measure(`build_${n}`, () => build().doc)

const loaded = load(encoded)
measure(`encode_${n}`, () => Y.encodeStateAsUpdate(loaded))
loaded.destroy()

measure(`load_${n}`, () => load(encoded))

measure(`apply_${m}_remote_moves`, replica => {
  for (const u of updates) Y.applyUpdate(replica, u, REMOTE_ORIGIN)
  return replica
}, () => load(encoded))

// The moves really landed (checked once, outside the timings).
const check = load(encoded)
for (const u of updates) Y.applyUpdate(check, u, REMOTE_ORIGIN)
const first = check.getMap('elements').get(ids[moveTarget(0)])
if (first.get('x') !== 12 || first.get('y') !== -7) {
  throw new Error(`element ${ids[moveTarget(0)]} at (${first.get('x')}, ${first.get('y')}) after its remote move`)
}
