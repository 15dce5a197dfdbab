/** TCP echo server for the ping-pong baseline. Args: [address=127.0.0.1]. Prints {"event":"listening","port"}. */
import net from 'node:net'

const address = process.argv[2] ?? '127.0.0.1'
const server = net.createServer((sock) => {
  sock.setNoDelay(true)
  sock.on('data', (d) => sock.write(d))
  sock.on('error', () => {})
})
server.listen(0, address, () => {
  process.stdout.write(JSON.stringify({ event: 'listening', port: (server.address() as net.AddressInfo).port }) + '\n')
})
process.on('SIGTERM', () => process.exit(0))
