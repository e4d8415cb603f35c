// Hocuspocus (npm @hocuspocus/server 4.x), unconfigured (in memory, no
// auth hook), for scripts/bench-fanout: PORT=N node hocuspocus_server.mjs
import { Server } from '@hocuspocus/server'

const server = new Server({ port: Number(process.env.PORT ?? 1234), address: '127.0.0.1', quiet: true })
await server.listen()
console.log(`hocuspocus listening on ${process.env.PORT}`)
