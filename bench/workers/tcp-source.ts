/**
 * Raw TCP sender for the throughput baseline: one socket.write() per message (as a transport
 * writes one frame per message), waiting for 'drain' on back-pressure; stops after `count`
 * messages or `ms` milliseconds, whichever comes first, then ends the connection.
 * Args: host port size count ms. Prints {"event":"sent","messages","seconds","cpuSeconds"}.
 */
import net from 'node:net'

const [host = '127.0.0.1', portText = '0', sizeText = '100', countText = '1000000', msText = '2000'] = process.argv.slice(2)
const size = Number(sizeText)
const count = Number(countText)
const ms = Number(msText)

// why: a pool of distinct frames, so the kernel copies real data rather than one hot cache line
const frames = Array.from({ length: 16 }, (_, i) => {
  const f = Buffer.alloc(4 + size, 97 + i)
  f.writeUInt32BE(size, 0)
  return f
})

const sock = net.connect(Number(portText), host, () => { void pump() })
sock.setNoDelay(true)
sock.on('error', (err) => { process.stderr.write(`${err.message}\n`); process.exit(1) })

async function pump (): Promise<void> {
  const start = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  const deadline = start + BigInt(ms) * 1_000_000n
  let sent = 0
  while (sent < count) {
    if ((sent & 1023) === 0 && process.hrtime.bigint() > deadline) break
    if (!sock.write(frames[sent & 15]!)) {
      await new Promise((resolve) => sock.once('drain', resolve))
    }
    sent++
  }
  sock.end(() => {
    const cpu = process.cpuUsage(cpu0)
    process.stdout.write(JSON.stringify({ event: 'sent', messages: sent, seconds: Number(process.hrtime.bigint() - start) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n')
  })
  sock.on('close', () => process.exit(0))
}
