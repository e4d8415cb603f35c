// The raw content of a Touchpoint board document as plain JSON, read with
// nothing but npm `yjs`: what a JavaScript client sees, before any of the
// defaults and validation of SCHEMA.md are applied. Shared by read_board.mjs
// and merge.mjs; the Rust interop tests compare it with `touchpoint inspect`.
//
// Output shape:
//   { "meta": { key: value, ... },
//     "elements": [ { "id": ..., "type": "Y.Map", "fields": { key: value } }, ... ] }
// Entries of `elements` that are not a Y.Map appear as { "id", "type" } with no
// fields. Elements are sorted by (z, id) compared bytewise (UTF-8), as
// SCHEMA.md orders them; a missing or non-string z sorts as "".
//
// Values: strings, finite numbers, booleans and null as themselves; the
// `text` field's Y.Text as its string; an ink `points` Uint8Array as
// [[x, y], ...] decoded from little-endian f32 pairs. Anything else is tagged
// so that it cannot be mistaken for a valid value:
//   {"$number": "NaN"}         a non-finite number
//   {"$bigint": "5"}           a bigint
//   {"$bytes": 12}             a Uint8Array (outside `points`, or a length that
//                              is not a multiple of 8)
//   {"$type": "Y.Text", "text": "..."}   a Y.Text outside `text`
//   {"$type": "Y.Map" | "Y.Array" | "array" | "object" | "undefined" | ...}

import * as Y from 'yjs'
import { readFileSync } from 'node:fs'

/** Opens a .tpboard file (a Yjs update v1) into a fresh Y.Doc. */
export function loadBoard (path) {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(readFileSync(path)))
  if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) {
    throw new Error('the update is incomplete: it depends on data it does not carry')
  }
  return doc
}

/** Decodes little-endian f32 pairs, or returns null when the length is not a multiple of 8. */
export function decodePoints (bytes) {
  if (bytes.length % 8 !== 0) return null
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = []
  for (let i = 0; i < bytes.length; i += 8) {
    out.push([rawNumber(view.getFloat32(i, true)), rawNumber(view.getFloat32(i + 4, true))])
  }
  return out
}

function rawNumber (n) {
  return Number.isFinite(n) ? n : { $number: String(n) }
}

/** One stored value as JSON, tagged where JSON cannot say what it is. */
export function rawValue (key, v) {
  if (v === null) return null
  if (v === undefined) return { $type: 'undefined' }
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v
    case 'number':
      return rawNumber(v)
    case 'bigint':
      return { $bigint: v.toString() }
  }
  if (v instanceof Y.Text) {
    return key === 'text' ? v.toString() : { $type: 'Y.Text', text: v.toString() }
  }
  if (v instanceof Uint8Array) {
    if (key === 'points') {
      const points = decodePoints(v)
      if (points !== null) return points
    }
    return { $bytes: v.length }
  }
  if (v instanceof Y.Map) return { $type: 'Y.Map' }
  if (v instanceof Y.Array) return { $type: 'Y.Array' }
  if (v instanceof Y.AbstractType) return { $type: v.constructor.name }
  if (Array.isArray(v)) return { $type: 'array' }
  return { $type: typeof v }
}

function rawFields (map) {
  const fields = {}
  for (const key of [...map.keys()].sort(compareBytes)) {
    fields[key] = rawValue(key, map.get(key))
  }
  return fields
}

const encoder = new TextEncoder()

/** Compares two strings by their UTF-8 bytes (Rust's `str` order). */
export function compareBytes (a, b) {
  return Buffer.compare(Buffer.from(encoder.encode(a)), Buffer.from(encoder.encode(b)))
}

/** The whole document as raw JSON (see the top of this file). */
export function rawBoard (doc) {
  const meta = rawFields(doc.getMap('meta'))
  const elements = []
  doc.getMap('elements').forEach((value, id) => {
    if (value instanceof Y.Map) {
      const fields = rawFields(value)
      const z = typeof fields.z === 'string' ? fields.z : ''
      elements.push({ id, type: 'Y.Map', fields, z })
    } else {
      const type = rawValue('', value)
      elements.push({ id, type: typeof type === 'object' && type !== null && type.$type ? type.$type : typeof value, z: '' })
    }
  })
  elements.sort((a, b) => compareBytes(a.z, b.z) || compareBytes(a.id, b.id))
  for (const e of elements) delete e.z
  return { meta, elements }
}

/** Stable, pretty JSON for a raw board. */
export function toJson (raw) {
  return JSON.stringify(raw, null, 2) + '\n'
}
