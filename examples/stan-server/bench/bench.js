'use strict'
// Benchmark: stan-server (through node-nats-streaming 0.3.2) side by side with Debian's
// nats-server with JetStream file storage (through the nats 2.x JetStream client).
//
//   node examples/stan-server/bench/bench.js [--stan PATH] [--count N] [--window W] [--runs R]
//
// stan-server starts its own nats-server (Debian's, from PATH) as usual. Each row is the median
// of R runs (default 3), publish and subscribe rates taken separately.
// For each message size (128 B, 1 KB): publish-with-ack throughput (W publishes outstanding at
// most, timed until the last ack) and subscriber throughput (all N messages delivered from the
// start of the channel/stream, each acked, at most W unacked). Same N, size and window for both.
// The clients come from ../test/node_modules (npm ci --prefix examples/stan-server/test).
const path = require('path')
const fs = require('fs')
const os = require('os')
const net = require('net')
const { spawn } = require('child_process')

const mods = path.join(__dirname, '..', 'test', 'node_modules')
const stan = require(path.join(mods, 'node-nats-streaming'))
const nats = require(path.join(mods, 'nats'))

const args = process.argv.slice(2)
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def }
const STAN = opt('--stan', path.join(__dirname, '..', '..', '..', 'build', 'examples', 'stan-server', 'stan-server'))
const NATS_SERVER = opt('--nats-server', 'nats-server')
const COUNT = Number(opt('--count', 20000))
const WINDOW = Number(opt('--window', 256))
const RUNS = Number(opt('--runs', 3))
const SIZES = [128, 1024]

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-bench-'))
const procs = []
process.on('exit', () => { for (const p of procs) p.kill('SIGKILL'); fs.rmSync(tmp, { recursive: true, force: true }) })

const freePort = () => new Promise((resolve) => {
  const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
})
function start (bin, argv, re) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    procs.push(p)
    let out = ''
    const on = (d) => { out += d; if (re.test(out)) resolve(p) }
    p.stdout.on('data', on); p.stderr.on('data', on)
    p.on('exit', (c) => reject(new Error(`${bin} exited ${c}: ${out}`)))
    setTimeout(() => reject(new Error(`${bin} did not start: ${out}`)), 10000)
  })
}
const stop = (p) => new Promise((resolve) => { p.removeAllListeners('exit'); p.on('exit', resolve); p.kill('SIGTERM') })

// Runs fn(i) for i in [0, n) with at most w promises pending; resolves when all are done.
function windowed (n, w, fn) {
  return new Promise((resolve, reject) => {
    let next = 0; let done = 0
    const launch = () => {
      while (next < n && next - done < w) {
        fn(next++).then(() => { done++; if (done === n) resolve(); else launch() }, reject)
      }
    }
    launch()
  })
}

async function benchStan (size, extraArgs, label) {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(tmp, 'stan-'))
  const p = await start(STAN, ['-p', String(port), '-st', 'FILE', '-dir', dir, ...extraArgs], /stan-server ready/)
  const sc = await new Promise((resolve, reject) => {
    const c = stan.connect('test-cluster', 'bench', { url: `nats://127.0.0.1:${port}`, maxPubAcksInflight: WINDOW })
    c.on('connect', () => resolve(c)); c.on('error', reject)
  })
  const payload = Buffer.alloc(size, 'x')
  const subj = 'bench'
  let t0 = process.hrtime.bigint()
  await windowed(COUNT, WINDOW, () => new Promise((resolve, reject) =>
    sc.publish(subj, payload, (err) => err ? reject(new Error(err)) : resolve())))
  const pubSecs = Number(process.hrtime.bigint() - t0) / 1e9
  t0 = process.hrtime.bigint()
  await new Promise((resolve) => {
    let n = 0
    const sub = sc.subscribe(subj, sc.subscriptionOptions().setDeliverAllAvailable().setMaxInFlight(WINDOW))
    sub.on('message', () => { if (++n === COUNT) resolve() })
  })
  const subSecs = Number(process.hrtime.bigint() - t0) / 1e9
  await new Promise((resolve) => { sc.on('close', resolve); sc.close() })
  await stop(p)
  return { label, size, pub: COUNT / pubSecs, sub: COUNT / subSecs }
}

async function benchJetStream (size) {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(tmp, 'js-'))
  const p = await start(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], /Server is ready/)
  const nc = await nats.connect({ servers: `127.0.0.1:${port}` })
  const jsm = await nc.jetstreamManager()
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench'], storage: nats.StorageType.File })
  const js = nc.jetstream()
  const payload = Buffer.alloc(size, 'x')
  let t0 = process.hrtime.bigint()
  await windowed(COUNT, WINDOW, () => js.publish('bench', payload))
  const pubSecs = Number(process.hrtime.bigint() - t0) / 1e9
  await jsm.consumers.add('BENCH', {
    durable_name: 'b', ack_policy: nats.AckPolicy.Explicit, deliver_policy: nats.DeliverPolicy.All, max_ack_pending: WINDOW
  })
  t0 = process.hrtime.bigint()
  const c = await js.consumers.get('BENCH', 'b')
  const iter = await c.consume({ max_messages: WINDOW })
  let n = 0
  for await (const m of iter) { m.ack(); if (++n === COUNT) break }
  const subSecs = Number(process.hrtime.bigint() - t0) / 1e9
  await nc.close()
  await stop(p)
  return { label: 'nats-server JetStream (file)', size, pub: COUNT / pubSecs, sub: COUNT / subSecs }
}

async function main () {
  if (!fs.existsSync(STAN)) throw new Error(`stan-server not found at ${STAN} (use --stan PATH)`)
  const rows = []
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const medianOf = async (fn) => {
    const rs = []
    for (let i = 0; i < RUNS; i++) rs.push(await fn())
    return { ...rs[0], pub: median(rs.map((r) => r.pub)), sub: median(rs.map((r) => r.sub)) }
  }
  for (const size of SIZES) {
    rows.push(await medianOf(() => benchStan(size, [], 'stan-server FILE (fsync per publish batch)')))
    rows.push(await medianOf(() => benchStan(size, ['--file_sync=false'], 'stan-server FILE --file_sync=false')))
    rows.push(await medianOf(() => benchJetStream(size)))
  }
  const fmt = (x) => Math.round(x).toLocaleString('en-US')
  console.log(`\n${COUNT} messages per run, ack window ${WINDOW}, medians of ${RUNS} runs, ${os.cpus().length} CPUs\n`)
  console.log('| server | size | publish with ack (msgs/s) | subscribe + ack (msgs/s) |')
  console.log('|---|---:|---:|---:|')
  for (const r of rows) console.log(`| ${r.label} | ${r.size} B | ${fmt(r.pub)} | ${fmt(r.sub)} |`)
  for (const size of SIZES) {
    const a = rows.find((r) => r.size === size && r.label.startsWith('stan-server FILE (')); const j = rows.find((r) => r.size === size && r.label.startsWith('nats'))
    const n = rows.find((r) => r.size === size && r.label.includes('file_sync=false'))
    console.log(`\n${size} B: publish with ack vs JetStream: ${(n.pub / j.pub).toFixed(2)}x without fsync, ` +
      `${(a.pub / j.pub).toFixed(2)}x with fsync per batch; subscribe: ${(a.sub / j.sub).toFixed(2)}x`)
  }
  process.exit(0)
}
main().catch((e) => { console.error(e); process.exit(1) })
