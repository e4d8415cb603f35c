// Headless Debian Chromium (driven by npm playwright-core) joins a room with
// the bundled page in browser/page.mjs, for sync-server/tests/websocket.rs:
//
//   node browser_client.mjs URL NAME EXPECT_TEXT
//
// Prints `converged {...}` once the page's board holds EXPECT_TEXT (after
// adding its own sticky "from NAME"), keeps the page open 3 s more, exits 0;
// exits 1 with the reason otherwise (30 s). CHROMIUM overrides the browser
// (default /usr/bin/chromium); playwright gives it a fresh profile.

import * as esbuild from 'esbuild'
import { chromium } from 'playwright-core'
import { fileURLToPath } from 'node:url'

const [url, name, expect] = process.argv.slice(2)
if (!url || !name || !expect) {
  console.error('usage: node browser_client.mjs URL NAME EXPECT_TEXT')
  process.exit(2)
}

const built = await esbuild.build({
  entryPoints: [fileURLToPath(new URL('browser/page.mjs', import.meta.url))],
  bundle: true,
  write: false,
  format: 'iife',
  logLevel: 'error'
})
const script = built.outputFiles[0].text

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync']
})
try {
  const page = await browser.newPage()
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`))
  await page.setContent('<!doctype html><title>Touchpoint participant</title>')
  await page.evaluate((settings) => { window.touchpoint = settings }, { url, name, expect })
  await page.addScriptTag({ content: script })
  const handle = await page.waitForFunction(() => window.touchpointResult, null, { timeout: 30000 })
  const result = await handle.jsonValue()
  if (result.closed) throw new Error(`the server closed the connection: ${result.closed}`)
  console.log('converged', JSON.stringify(result))
  await page.waitForTimeout(3000)
} catch (e) {
  console.error(`browser_client: ${e.message}`)
  process.exitCode = 1
} finally {
  await browser.close()
}
