// A Yjs client joining a Touchpoint room over WebSocket with the unmodified
// npm `y-websocket` provider, for sync-server/tests/websocket.rs.
//
//   node ws_client.mjs join URL NAME EXPECT_TEXT EXPECT_PEER
//     publishes presence {user: {name: NAME, color}}, adds a sticky "from NAME"
//     (SCHEMA.md fields), waits until the board holds a sticky EXPECT_TEXT and
//     a peer called EXPECT_PEER is present, prints `converged`, then keeps
//     its presence for 3 s more (so the Rust side sees it) and leaves.
//   node ws_client.mjs viewer URL
//     a viewer link: once synced, tries to add a sticky "viewer edit";
//     prints `closed CODE` when the server closes the connection.
//   node ws_client.mjs refused URL WAIT_MS
//     prints `{"attempts": N, "code": C}` after WAIT_MS: how many sockets
//     the provider opened and the close code that ended it.
//
// Exits 1 with a reason on stderr when the expected never happens (30 s).
// Y_WEBSOCKET=y-websocket-1 runs the older provider (npm y-websocket 1.5.4,
// installed under that alias) instead of 3.x.

import * as Y from 'yjs'
import WebSocket from 'ws'

const { WebsocketProvider } = await import(process.env.Y_WEBSOCKET ?? 'y-websocket')

const [mode, url, ...rest] = process.argv.slice(2)
if (!mode || !url) {
  console.error('usage: node ws_client.mjs join|viewer|refused URL ...')
  process.exit(2)
}
const TIMEOUT_MS = 30000

// y-websocket takes a server URL and a room; ours is one URL with both.
const parsed = new URL(url)
const room = decodeURIComponent(parsed.pathname.slice(1))
const params = Object.fromEntries(parsed.searchParams)
const server = `${parsed.protocol}//${parsed.host}`

let attempts = 0
class CountingWebSocket extends WebSocket {
  constructor (...args) {
    super(...args)
    attempts++
  }
}

const doc = new Y.Doc()
const provider = new WebsocketProvider(server, room, doc, {
  params,
  WebSocketPolyfill: CountingWebSocket,
  maxBackoffTime: 200
})

const fail = (why) => {
  console.error(`ws_client ${mode}: ${why}`)
  process.exit(1)
}
setTimeout(() => fail('timed out'), TIMEOUT_MS).unref()

function addSticky (id, text) {
  const elements = doc.getMap('elements')
  doc.transact(() => {
    const map = new Y.Map()
    elements.set(id, map)
    map.set('kind', 'sticky')
    map.set('x', 400)
    map.set('y', 0)
    map.set('w', 200)
    map.set('h', 200)
    map.set('rot', 0)
    map.set('z', 'V' + id)
    map.set('text', new Y.Text(text))
  })
}

function stickyTexts () {
  const texts = []
  for (const map of doc.getMap('elements').values()) {
    if (map instanceof Y.Map && map.get('kind') === 'sticky') {
      const text = map.get('text')
      texts.push(text instanceof Y.Text ? text.toString() : String(text))
    }
  }
  return texts
}

function peerNames () {
  const names = []
  for (const [client, state] of provider.awareness.getStates()) {
    if (client !== doc.clientID && state?.user?.name) names.push(state.user.name)
  }
  return names
}

const synced = () => new Promise((resolve) => {
  if (provider.synced) resolve()
  else provider.once('sync', (s) => s && resolve())
})

// 3.x says `closed` for a refusal it will not retry; 1.5.x only
// `connection-close`, and retries whatever the code.
const onRefused = (f) => {
  provider.on('closed', (event) => f(event.code))
  provider.on('connection-close', (event) => event && event.code >= 4000 && f(event.code))
}

if (mode === 'join') {
  const [name, expectText, expectPeer] = rest
  provider.awareness.setLocalStateField('user', { name, color: '#8e24aa' })
  await synced()
  addSticky(`js-${name}`, `from ${name}`)
  await new Promise((resolve) => {
    const check = () => {
      if (stickyTexts().includes(expectText) && peerNames().includes(expectPeer)) resolve()
    }
    doc.on('update', check)
    provider.awareness.on('change', check)
    check()
  })
  console.log('converged', JSON.stringify({ texts: stickyTexts(), peers: peerNames() }))
  await new Promise((resolve) => setTimeout(resolve, 3000))
  provider.destroy()
  process.exit(0)
} else if (mode === 'viewer') {
  onRefused((code) => {
    console.log(`closed ${code}`)
    provider.destroy()
    process.exit(0)
  })
  await synced()
  addSticky('js-viewer', 'viewer edit')
} else if (mode === 'refused') {
  const waitMs = Number(rest[0] ?? 3000)
  let code = null
  provider.on('closed', (event) => { code = event.code })
  await new Promise((resolve) => setTimeout(resolve, waitMs))
  console.log(JSON.stringify({ attempts, code }))
  provider.destroy()
  process.exit(0)
} else {
  fail(`unknown mode ${mode}`)
}
