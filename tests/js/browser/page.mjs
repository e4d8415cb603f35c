// The page a browser participant runs in sync-server/tests/websocket.rs:
// unmodified y-websocket and yjs, bundled by esbuild. Its settings come in
// `window.touchpoint` ({url, name, expect}); it reports on
// `window.touchpointResult` once the board holds the expected sticky.

import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const { url, name, expect } = window.touchpoint
const parsed = new URL(url)
const doc = new Y.Doc()
const provider = new WebsocketProvider(
  `${parsed.protocol}//${parsed.host}`,
  decodeURIComponent(parsed.pathname.slice(1)),
  doc,
  { params: Object.fromEntries(parsed.searchParams) }
)
provider.awareness.setLocalStateField('user', { name, color: '#1e88e5' })

const texts = () => [...doc.getMap('elements').values()]
  .filter((m) => m instanceof Y.Map && m.get('kind') === 'sticky')
  .map((m) => String(m.get('text')))

provider.once('sync', () => {
  const elements = doc.getMap('elements')
  doc.transact(() => {
    const map = new Y.Map()
    elements.set(`browser-${name}`, map)
    for (const [k, v] of Object.entries({ kind: 'sticky', x: 0, y: 400, w: 200, h: 200, rot: 0, z: 'W' })) map.set(k, v)
    map.set('text', new Y.Text(`from ${name}`))
  })
})
const check = () => {
  if (texts().includes(expect)) window.touchpointResult = { texts: texts(), userAgent: navigator.userAgent }
}
doc.on('update', check)
provider.on('closed', (e) => { window.touchpointResult = { closed: e.code } })
