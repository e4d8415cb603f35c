// node grid.mjs read BOARD.tpboard
// node grid.mjs edit BOARD.tpboard OUT.tpboard GRID_ID STAGE_ID TO LANE_ID
//
// Reads a board's grids (journey maps, service blueprints, boards of
// columns) with nothing but npm `yjs`, following SCHEMA.md ("Grids"), and
// prints them as JSON:
//
//   { "grids": [ { "id", "title",
//       "stages": [ { "id", "title", "width" } ],
//       "lanes":  [ { "id", "title", "height", "role", "points": { stageId: v } } ],
//       "cells":  { laneId: { stageId: [ "sticky text", ... ] } } } ] }
//
// Grids are listed in (z, id) order; cells only where something sits, their
// texts in (z, id) order; stage and lane order as SCHEMA.md says: ids of the
// order array, first occurrence kept, ids without a fields map skipped.
//
// `edit` does what a JavaScript client would: moves stage STAGE_ID to
// position TO (delete the id, insert it again) and adds a sticky whose cell
// is (LANE_ID, STAGE_ID), then writes the whole document to OUT.

import * as Y from 'yjs'
import { writeFileSync } from 'node:fs'
import { loadBoard } from './raw_board.mjs'

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0)
const bytes = (s) => Buffer.from(s, 'utf8')
const byZ = (a, b) => Buffer.compare(bytes(a.z), bytes(b.z)) || Buffer.compare(bytes(a.id), bytes(b.id))

function zOf (m) {
  const z = m.get('z')
  return typeof z === 'string' ? z : ''
}

function textOf (m) {
  const t = m.get('text')
  if (t instanceof Y.Text) return t.toString()
  return typeof t === 'string' ? t : ''
}

function num (v, fallback) {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback
}

/** The visible order of one axis: [id, fieldsMap] pairs. */
function order (grid, orderKey, infoKey) {
  const arr = grid.get(orderKey)
  const info = grid.get(infoKey)
  if (!(arr instanceof Y.Array)) return []
  const seen = new Set()
  const out = []
  for (const id of arr.toArray()) {
    if (typeof id !== 'string' || seen.has(id)) continue
    seen.add(id)
    const f = info instanceof Y.Map ? info.get(id) : undefined
    if (f instanceof Y.Map) out.push([id, f])
  }
  return out
}

function clampSize (v, d) {
  return Math.min(Math.max(num(v, d), 24), 100000)
}

function readGrids (doc) {
  const elements = doc.getMap('elements')
  const entries = []
  elements.forEach((m, id) => {
    if (m instanceof Y.Map) entries.push({ id, m, z: zOf(m) })
  })
  entries.sort(byZ)
  const grids = []
  for (const { id, m } of entries) {
    if (m.get('kind') !== 'grid') continue
    const stages = order(m, 'stages', 'stage_info').map(([sid, f]) => ({
      id: sid,
      title: typeof f.get('title') === 'string' ? f.get('title') : '',
      width: clampSize(f.get('width'), 320)
    }))
    const stageIds = new Set(stages.map((s) => s.id))
    const lanes = order(m, 'lanes', 'lane_info').map(([lid, f]) => {
      const role = ['cards', 'emotion', 'line'].includes(f.get('role')) ? f.get('role') : 'cards'
      const points = {}
      const p = f.get('points')
      if (p instanceof Y.Map) {
        for (const [sid, v] of [...p.entries()].sort((a, b) => cmp(a[0], b[0]))) {
          if (stageIds.has(sid) && typeof v === 'number' && Number.isFinite(v)) {
            points[sid] = Math.min(Math.max(v, -1), 1)
          }
        }
      }
      return {
        id: lid,
        title: typeof f.get('title') === 'string' ? f.get('title') : '',
        height: clampSize(f.get('height'), role === 'line' ? 48 : 240),
        role,
        points
      }
    })
    const cardLanes = new Set(lanes.filter((l) => l.role !== 'line').map((l) => l.id))
    const members = []
    for (const e of entries) {
      const cell = e.m.get('cell')
      if (cell === null || typeof cell !== 'object' || cell instanceof Y.AbstractType) continue
      if (cell.grid !== id || !cardLanes.has(cell.lane) || !stageIds.has(cell.stage)) continue
      if (['grid', 'frame', 'connector'].includes(e.m.get('kind'))) continue
      if (!['sticky', 'shape', 'text', 'ink'].includes(e.m.get('kind'))) continue
      members.push({ ...e, lane: cell.lane, stage: cell.stage })
    }
    members.sort(byZ)
    const cells = {}
    for (const e of members) {
      cells[e.lane] ??= {}
      cells[e.lane][e.stage] ??= []
      cells[e.lane][e.stage].push(textOf(e.m))
    }
    grids.push({ id, title: textOf(m), stages, lanes, cells })
  }
  return { grids }
}

const [cmd, path, ...rest] = process.argv.slice(2)
let doc
try {
  doc = loadBoard(path)
} catch (e) {
  console.error(`grid: cannot open ${path}: ${e.message}`)
  process.exit(1)
}
if (cmd === 'read') {
  process.stdout.write(JSON.stringify(readGrids(doc), null, 2) + '\n')
} else if (cmd === 'edit') {
  const [out, gridId, stageId, to, laneId] = rest
  const grid = doc.getMap('elements').get(gridId)
  doc.transact(() => {
    const arr = grid.get('stages')
    const ids = arr.toArray()
    for (let i = ids.length - 1; i >= 0; i--) if (ids[i] === stageId) arr.delete(i, 1)
    const visible = order(grid, 'stages', 'stage_info').map(([id]) => id)
    const before = visible[Number(to)]
    const at = before === undefined ? arr.length : arr.toArray().indexOf(before)
    arr.insert(at, [stageId])
    const sticky = new Y.Map()
    sticky.set('kind', 'sticky')
    sticky.set('x', 0)
    sticky.set('y', 0)
    sticky.set('w', 200)
    sticky.set('h', 200)
    sticky.set('z', '~')
    sticky.set('text', new Y.Text('written by JavaScript'))
    sticky.set('cell', { grid: gridId, lane: laneId, stage: stageId })
    doc.getMap('elements').set('js-1', sticky)
  })
  writeFileSync(out, Y.encodeStateAsUpdate(doc))
} else {
  console.error('usage: node grid.mjs read BOARD.tpboard | edit BOARD OUT GRID STAGE TO LANE')
  process.exit(2)
}
