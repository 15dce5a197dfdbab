/**
 * TCP ping-pong client: one 64-byte message outstanding at a time, Nagle off; after `warmup`
 * round trips it records `samples` more (or stops after `ms`), then prints the RTT percentiles.
 * Args: host port samples warmup ms.
 */
import net from 'node:net'
import hdr from 'hdr-histogram-js'

const [host = '127.0.0.1', portText = '0', samplesText = '20000', warmupText = '2000', msText = '5000'] = process.argv.slice(2)
const samples = Number(samplesText)
const warmup = Number(warmupText)
const ms = Number(msText)
const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: 3 })
const msg = Buffer.alloc(64, 120)

const sock = net.connect(Number(portText), host, () => {
  sock.setNoDelay(true)
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(ms) * 1_000_000n
  let n = 0
  let got = 0
  let sentAt = 0n
  const ping = (): void => { got = 0; sentAt = process.hrtime.bigint(); sock.write(msg) }
  sock.on('data', (d) => {
    got += d.length
    if (got < msg.length) return
    const now = process.hrtime.bigint()
    if (n >= warmup) histogram.recordValue(Number(now - sentAt))
    n++
    if (n < warmup + samples && now < deadline) return ping()
    const us = (q: number): number => histogram.getValueAtPercentile(q) / 1000
    const recorded = Math.max(0, n - warmup)
    process.stdout.write(JSON.stringify({
      event: 'done',
      samples: recorded,
      p50us: us(50),
      p99us: us(99),
      p999us: us(99.9),
      maxUs: histogram.maxValue / 1000,
      roundTripsPerSecond: n / (Number(now - start) / 1e9)
    }) + '\n')
    sock.end(() => process.exit(0))
  })
  ping()
})
sock.on('error', (err) => { process.stderr.write(`${err.message}\n`); process.exit(1) })
