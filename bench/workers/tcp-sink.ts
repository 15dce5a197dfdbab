/**
 * Raw TCP receiver for the throughput baseline: reads 4-byte length-prefixed messages, counts
 * them, and when the sender ends reports messages, bytes, the seconds from first byte to end and
 * the CPU seconds this process used for the connection.
 * Args: [address=127.0.0.1]. Prints {"event":"listening","port"} then one "done" line per connection.
 */
import net from 'node:net'

const address = process.argv[2] ?? '127.0.0.1'

const server = net.createServer((sock) => {
  let messages = 0
  let bytes = 0
  let first = 0n
  const cpu0 = process.cpuUsage()
  let pending: Buffer = Buffer.alloc(0)
  let need = -1
  sock.on('data', (chunk: Buffer) => {
    if (first === 0n) first = process.hrtime.bigint()
    bytes += chunk.length
    // why: parse frames like a transport would, so the figure includes framing work
    let buf: Buffer = pending.length ? Buffer.concat([pending, chunk]) : chunk
    let off = 0
    for (;;) {
      if (need < 0) {
        if (buf.length - off < 4) break
        need = buf.readUInt32BE(off); off += 4
      }
      if (buf.length - off < need) break
      off += need; need = -1; messages++
    }
    pending = off < buf.length ? buf.subarray(off) : Buffer.alloc(0)
    if (pending.length > 1 << 20) pending = Buffer.from(pending)
    buf = pending
  })
  sock.on('end', () => {
    const seconds = Number(process.hrtime.bigint() - first) / 1e9
    const cpu = process.cpuUsage(cpu0)
    process.stdout.write(JSON.stringify({ event: 'done', messages, bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n')
    sock.end()
  })
  sock.on('error', () => {})
})
server.listen(0, address, () => {
  process.stdout.write(JSON.stringify({ event: 'listening', port: (server.address() as net.AddressInfo).port }) + '\n')
})
process.on('SIGTERM', () => process.exit(0))
