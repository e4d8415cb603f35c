// node merge.mjs BASE.tpboard PLAN.json RUST.update OUT_DIR
//
// The JavaScript half of a concurrent-editing test. Opens BASE with npm `yjs`,
// applies the edits listed in PLAN (each in its own transaction, before seeing
// anything from Rust), and writes what they produced as OUT_DIR/js.update (a
// Yjs update v1 relative to BASE). Then applies RUST.update (edits Rust made
// concurrently on its own copy of BASE; "-" for none), saves the merged
// document as OUT_DIR/js-merged.tpboard and prints its raw content as JSON on
// stdout (the format of read_board.mjs).
//
// PLAN is a JSON array of edits, in the vocabulary of SCHEMA.md:
//   {"op": "insert_text", "id": ID, "at": N | "end", "text": S}
//       N counts characters (Unicode code points), as Touchpoint's
//       insert_text does; it is turned into the UTF-16 index Yjs uses.
//   {"op": "delete_text", "id": ID, "at": N, "len": N}
//   {"op": "set", "id": ID, "fields": {key: value}}   (move, restyle, rebind...)
//   {"op": "unset", "id": ID, "keys": [key, ...]}
//   {"op": "create", "id": ID, "fields": {key: value}, "text": S?}
//       `text`, when given, becomes a Y.Text; `points` ([[x, y], ...]) become
//       little-endian f32 pairs.
//   {"op": "delete", "id": ID}

import * as Y from 'yjs'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadBoard, rawBoard, toJson } from './raw_board.mjs'

const [basePath, planPath, rustPath, outDir] = process.argv.slice(2)
if (!outDir) {
  console.error('usage: node merge.mjs BASE.tpboard PLAN.json RUST.update|- OUT_DIR')
  process.exit(2)
}

function fail (msg) {
  console.error(`merge: ${msg}`)
  process.exit(1)
}

/** UTF-16 index of the `chars`-th code point of `s` (clamped to the end). */
function utf16Index (s, chars) {
  return [...s].slice(0, chars).join('').length
}

function encodePoints (pairs) {
  const bytes = new Uint8Array(pairs.length * 8)
  const view = new DataView(bytes.buffer)
  pairs.forEach(([x, y], i) => {
    view.setFloat32(i * 8, x, true)
    view.setFloat32(i * 8 + 4, y, true)
  })
  return bytes
}

function fieldValue (key, value) {
  return key === 'points' && Array.isArray(value) ? encodePoints(value) : value
}

const doc = loadBoard(basePath)
const base = Y.encodeStateVector(doc)
const elements = doc.getMap('elements')
const plan = JSON.parse(readFileSync(planPath, 'utf8'))

function element (id) {
  const map = elements.get(id)
  if (!(map instanceof Y.Map)) fail(`no element ${JSON.stringify(id)} in the base board`)
  return map
}

function text (id) {
  const map = element(id)
  let t = map.get('text')
  if (!(t instanceof Y.Text)) {
    // SCHEMA.md: a plain string is turned into a Y.Text on the first edit.
    t = new Y.Text(typeof t === 'string' ? t : '')
    map.set('text', t)
  }
  return t
}

for (const edit of plan) {
  doc.transact(() => {
    switch (edit.op) {
      case 'insert_text': {
        const t = text(edit.id)
        const s = t.toString()
        const at = edit.at === 'end' ? s.length : utf16Index(s, edit.at)
        t.insert(at, edit.text)
        break
      }
      case 'delete_text': {
        const t = text(edit.id)
        const s = t.toString()
        const start = utf16Index(s, edit.at)
        const end = utf16Index(s, edit.at + edit.len)
        if (end > start) t.delete(start, end - start)
        break
      }
      case 'set': {
        const map = element(edit.id)
        for (const [k, v] of Object.entries(edit.fields)) map.set(k, fieldValue(k, v))
        break
      }
      case 'unset': {
        const map = element(edit.id)
        for (const k of edit.keys) map.delete(k)
        break
      }
      case 'create': {
        if (elements.has(edit.id)) fail(`element ${JSON.stringify(edit.id)} exists already`)
        const map = new Y.Map()
        elements.set(edit.id, map)
        for (const [k, v] of Object.entries(edit.fields)) map.set(k, fieldValue(k, v))
        if (typeof edit.text === 'string') map.set('text', new Y.Text(edit.text))
        break
      }
      case 'delete':
        element(edit.id)
        elements.delete(edit.id)
        break
      default:
        fail(`unknown op ${JSON.stringify(edit.op)}`)
    }
  })
}

writeFileSync(join(outDir, 'js.update'), Y.encodeStateAsUpdate(doc, base))

if (rustPath !== '-') {
  Y.applyUpdate(doc, new Uint8Array(readFileSync(rustPath)))
  if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) {
    fail(`${rustPath} depends on data that neither it nor the base carries`)
  }
}
writeFileSync(join(outDir, 'js-merged.tpboard'), Y.encodeStateAsUpdate(doc))
process.stdout.write(toJson(rawBoard(doc)))
