// node write_board.mjs OUT.tpboard
//
// Writes a Touchpoint board with npm `yjs` alone, following SCHEMA.md and
// nothing else: meta, at least one element of every kind and every shape
// outline, styles, a frame with children, connectors bound (with anchors) and
// free, ink points, text in several scripts, edits after creation (typing, a
// deleted element), and a few deliberately broken entries that a reader must
// skip or default without failing. The Rust interop test (tests/tests/interop.rs,
// `js_written_board_opens_in_rust`) opens the result with `touchpoint inspect`
// and knows the ids and values used here: change both together.
//
// The committed tests/fixtures/js-written.tpboard is this script's output.

import * as Y from 'yjs'
import { writeFileSync } from 'node:fs'

const [out] = process.argv.slice(2)
if (!out) {
  console.error('usage: node write_board.mjs OUT.tpboard')
  process.exit(2)
}

/** Little-endian f32 pairs, as SCHEMA.md stores ink points. */
function points (pairs) {
  const bytes = new Uint8Array(pairs.length * 8)
  const view = new DataView(bytes.buffer)
  pairs.forEach(([x, y], i) => {
    view.setFloat32(i * 8, x, true)
    view.setFloat32(i * 8 + 4, y, true)
  })
  return bytes
}

const doc = new Y.Doc()
const meta = doc.getMap('meta')
const elements = doc.getMap('elements')

/** Inserts an element map, then sets its fields (Y.Text values included). */
function add (id, fields) {
  const map = new Y.Map()
  elements.set(id, map)
  for (const [key, value] of Object.entries(fields)) map.set(key, value)
  return map
}

doc.transact(() => {
  meta.set('schema', 1)
  meta.set('title', 'Passport renewal — service blueprint ✈️')
  meta.set('template', 'service-blueprint')

  // A frame (drawn at the bottom) holding two stickies and a shape.
  add('frame-journey', {
    kind: 'frame',
    x: -40,
    y: -60.5,
    w: 1600,
    h: 900,
    rot: 0,
    z: '1',
    author: 'Amélie',
    fill: '#f7f7f7',
    stroke: '#c8c8c8',
    stroke_width: 1,
    font_size: 14,
    align: 'left',
    text: new Y.Text('Journey: renew a passport 🛂')
  })
  add('sticky-yellow', {
    kind: 'sticky',
    x: 0,
    y: 0,
    w: 200,
    h: 200,
    rot: 0,
    z: '2',
    parent: 'frame-journey',
    author: 'Ngozi',
    fill: '#fff9b1',
    text_color: '#1a1a1a',
    font_size: 20,
    align: 'center',
    text: new Y.Text('Café ☕ résumé, naïve 👩🏽‍💻')
  })
  add('sticky-rtl', {
    kind: 'sticky',
    x: 240,
    y: 0,
    w: 220,
    h: 180,
    rot: -3.5,
    z: '3',
    parent: 'frame-journey',
    fill: '#A6CCF5', // any case is read; lowercase is written
    stroke: 'none',
    align: 'right',
    text: new Y.Text('مرحبا بالعالم — שלום עולם')
  })

  // Every shape outline, with and without text and paint.
  const outlines = ['rect', 'rounded_rect', 'ellipse', 'diamond', 'triangle']
  outlines.forEach((shape, i) => {
    add(`shape-${shape}`, {
      kind: 'shape',
      shape,
      x: 100 + i * 180,
      y: 400,
      w: 160,
      h: 100 + i * 10,
      rot: shape === 'diamond' ? 45 : 0,
      z: `4${'ABCDE'[i]}`,
      ...(shape === 'rect' ? { parent: 'frame-journey' } : {}),
      fill: shape === 'ellipse' ? 'none' : '#d5f692',
      stroke: shape === 'triangle' ? 'none' : '#333333',
      stroke_width: 2.5 + i,
      text_color: '#0a0B0c',
      font_size: 12 + i,
      align: ['left', 'center', 'right', 'center', 'left'][i],
      text: new Y.Text(i % 2 === 0 ? `${shape} ∑ 日本語` : '')
    })
  })
  add('text-notes', {
    kind: 'text',
    x: 100,
    y: 700,
    w: 400,
    h: 80,
    rot: 0,
    z: '5',
    text_color: '#333333',
    font_size: 24,
    align: 'center',
    text: new Y.Text('Line one\nline "two"\twith a tab, Ελληνικά, 🙂')
  })
  add('ink-stroke', {
    kind: 'ink',
    x: 1200,
    y: 600,
    w: 50,
    h: 20,
    rot: 0,
    z: '6',
    stroke: '#e03131',
    stroke_width: 4,
    points: points([[0, 0], [10.5, 5.25], [25.1, 19.9], [50, 20]])
  })

  // Connectors: both ends bound with anchors; one bound end and one free end;
  // a bound end with no anchor (centre).
  add('connector-bound', {
    kind: 'connector',
    z: '7',
    from_id: 'sticky-yellow',
    from_anchor: 'right',
    from_x: 200,
    from_y: 100,
    to_id: 'shape-diamond',
    to_anchor: 'top',
    to_x: 540,
    to_y: 400,
    arrow_start: 'arrow',
    arrow_end: 'arrow',
    stroke: '#0055ff',
    stroke_width: 3
  })
  add('connector-free-end', {
    kind: 'connector',
    z: '8',
    from_id: 'shape-rect',
    from_anchor: 'bottom',
    from_x: 180,
    from_y: 500,
    to_x: 180.25,
    to_y: 820.75,
    arrow_start: 'none',
    arrow_end: 'none'
  })
  add('connector-centre', {
    kind: 'connector',
    z: '9',
    from_id: 'text-notes',
    from_x: 300,
    from_y: 740,
    to_id: 'ink-stroke',
    to_anchor: 'left',
    to_x: 1200,
    to_y: 610
  })

  // Deliberately odd entries. A reader must skip the first four...
  add('odd-unknown-kind', { kind: 'hologram', x: 1, y: 2, w: 3, h: 4, z: 'V' })
  add('odd-no-kind', { x: 5, y: 6, z: 'V' })
  add('odd-kind-number', { kind: 7, z: 'V' })
  elements.set('odd-not-a-map', 'just a string')
  // ...and default every broken field of these.
  add('odd-mistyped', {
    kind: 'sticky',
    x: NaN,
    y: 2 ** 40,
    w: 'wide',
    h: -50,
    rot: '45',
    z: 5, // not a string: sorts as ""
    parent: 42,
    author: ['not', 'a', 'string'],
    fill: 'yellow',
    stroke: '#12345',
    stroke_width: '3',
    text_color: true,
    font_size: 12n,
    align: 'justify',
    text: 'a plain string (tolerated)'
  })
  add('odd-shape', {
    kind: 'shape',
    shape: 'hexagon',
    x: 10,
    y: 10,
    w: 10,
    h: 10,
    z: 'a',
    font_size: 0,
    stroke_width: -2,
    text: 42
  })
  add('odd-parent-not-frame', {
    kind: 'text',
    x: 0,
    y: 1000,
    w: 100,
    h: 30,
    z: 'b',
    parent: 'sticky-yellow',
    text: new Y.Text('my parent is a sticky, not a frame')
  })
  add('odd-frame-in-frame', {
    kind: 'frame',
    x: 2000,
    y: 0,
    w: 400,
    h: 300,
    z: '0V',
    parent: 'frame-journey',
    text: new Y.Text('frames are top level')
  })
  add('odd-connector', {
    kind: 'connector',
    z: 'c',
    from_id: 'no-such-element',
    from_anchor: 'middle',
    from_x: 1,
    from_y: 2,
    to_id: 'connector-bound',
    to_x: 3,
    to_y: 4,
    arrow_start: 'circle'
  })
  add('odd-ink', {
    kind: 'ink',
    x: 0,
    y: 0,
    w: 1,
    h: 1,
    z: 'd',
    points: 'not bytes'
  })
})

// Later edits, as a person would make them: typing into a note (UTF-16
// positions, as Yjs counts them), and an element created then deleted.
doc.transact(() => {
  const text = elements.get('sticky-yellow').get('text')
  text.insert(0, '» ')
  text.insert(text.length, ' «')
  add('deleted-later', { kind: 'sticky', x: 0, y: 0, w: 10, h: 10, z: 'e', text: new Y.Text('gone') })
})
doc.transact(() => {
  elements.delete('deleted-later')
})

writeFileSync(out, Y.encodeStateAsUpdate(doc))
