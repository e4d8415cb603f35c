// node read_board.mjs BOARD.tpboard
//
// Opens a Touchpoint board with npm `yjs` alone (Y.applyUpdate) and prints its
// raw content as JSON on stdout: meta fields and every element with every
// stored field, sorted by (z, id). See raw_board.mjs for the exact format.

import { loadBoard, rawBoard, toJson } from './raw_board.mjs'

const [path] = process.argv.slice(2)
if (!path) {
  console.error('usage: node read_board.mjs BOARD.tpboard')
  process.exit(2)
}
let doc
try {
  doc = loadBoard(path)
} catch (e) {
  console.error(`read_board: cannot open ${path}: ${e.message}`)
  process.exit(1)
}
process.stdout.write(toJson(rawBoard(doc)))
