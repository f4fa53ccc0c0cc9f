'use strict'
// The core NATS side of stan-server: it starts Debian's nats-server as a child, so the real Node
// clients (nats 2.x, and nats 1.4.12 which node-nats-streaming 0.3.2 uses) talk to a real NATS
// server through it. Also: two stan-servers' children joined with --cluster/--routes route core
// NATS between them, and nats-server's own monitoring is reached through stan-server's -m port.
//
// Run by `meson test --suite stan-server` with STAN_SERVER set to the built binary. The clients
// come from test/node_modules (`npm ci --prefix examples/stan-server/test`), nats-server from
// Debian (`apt-get install nats-server`); without them the run exits 77 (skipped).

const path = require('path')
const net = require('net')
const fs = require('fs')
const http = require('http')
const { spawn } = require('child_process')
const { test, after } = require('node:test')
const assert = require('node:assert/strict')

const here = __dirname
function need (mod) {
  try {
    return require(path.join(here, 'node_modules', mod))
  } catch (e) {
    console.error(`stan-server tests: cannot load the npm package '${mod}' from ${here}/node_modules.\n` +
      `Install the test clients first:  npm ci --prefix ${here}\n` +
      `(${e.message.split('\n')[0]})`)
    process.exit(77)
  }
}
const nats2 = need('nats')
const nats1 = need('nats1')

const STAN_SERVER = process.env.STAN_SERVER
if (!STAN_SERVER || !fs.existsSync(STAN_SERVER)) {
  console.error('stan-server tests: set STAN_SERVER to the stan-server binary (meson test does)')
  process.exit(1)
}
const NATS_BIN = process.env.NATS_SERVER_BIN ||
  ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => fs.existsSync(p))
if (!NATS_BIN) {
  console.error('stan-server tests: nats-server is not installed (Debian: apt-get install nats-server, ' +
    'or set NATS_SERVER_BIN)')
  process.exit(77)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const children = []
after(() => {
  for (const c of children) c.kill('SIGTERM')
})

// Starts stan-server; resolves to { port, mport, natsMport, proc, out() } once it is ready.
function startStan (args = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(STAN_SERVER, ['--nats_bin', NATS_BIN, '-p', '0', '-m', '0', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(proc)
    let out = ''
    const timer = setTimeout(() => reject(new Error(`stan-server did not start: ${out}`)), 10000)
    const onData = (d) => {
      out += d.toString()
      const m = out.match(/stan-server ready: nats 127\.0\.0\.1:(\d+) monitor 127\.0\.0\.1:(\d+) nats-monitor 127\.0\.0\.1:(\d+)/)
      if (m) {
        clearTimeout(timer)
        resolve({ port: Number(m[1]), mport: Number(m[2]), natsMport: Number(m[3]), proc, out: () => out })
      }
    }
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    proc.on('exit', (code) => { clearTimeout(timer); if (code) reject(new Error(`stan-server exited ${code}: ${out}`)) })
  })
}

function freePort () {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
}

function httpGet (port, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }))
    }).on('error', reject)
  })
}

// ---------------------------------------------------------------------------------------------
// Client suites, run against the nats-server that stan-server starts.

function collect (n, timeoutMs = 3000) {
  let resolve
  const got = []
  const done = new Promise((res, rej) => {
    resolve = res
    setTimeout(() => rej(new Error(`timed out with ${got.length}/${n} messages`)), timeoutMs)
  })
  return { got, push (m) { got.push(m); if (got.length === n) resolve(got) }, done }
}

// A test that is skipped when its server did not start (the optional reference server).
function ptest (name, getPort, fn) {
  test(name, async (t) => {
    if (!getPort()) { t.skip('server not available'); return }
    await fn()
  })
}

function nats2Suite (label, getPort) {
  const sc = nats2.StringCodec()
  const url = () => `127.0.0.1:${getPort()}`

  ptest(`${label}: nats 2.x pub/sub with * and > wildcards`, getPort, async () => {
    const nc = await nats2.connect({ servers: url() })
    const star = collect(2)
    const full = collect(3)
    const exact = collect(1)
    nc.subscribe('orders.*', { callback: (_e, m) => star.push(m.subject + '=' + sc.decode(m.data)) })
    nc.subscribe('orders.>', { callback: (_e, m) => full.push(m.subject) })
    nc.subscribe('orders.new', { callback: (_e, m) => exact.push(sc.decode(m.data)) })
    await nc.flush()
    nc.publish('orders.new', sc.encode('a'))
    nc.publish('orders.old', sc.encode('b'))
    nc.publish('orders.eu.new', sc.encode('c'))
    nc.publish('other', sc.encode('d'))
    assert.deepEqual((await star.done).sort(), ['orders.new=a', 'orders.old=b'])
    assert.deepEqual((await full.done).sort(), ['orders.eu.new', 'orders.new', 'orders.old'])
    assert.deepEqual(await exact.done, ['a'])
    await nc.flush()
    assert.equal(star.got.length, 2)
    await nc.close()
  })

  ptest(`${label}: nats 2.x queue groups share the messages`, getPort, async () => {
    const nc = await nats2.connect({ servers: url() })
    const nc2 = await nats2.connect({ servers: url() })
    const counts = [0, 0, 0]
    const all = collect(200)
    const plain = collect(100)
    nc.subscribe('jobs', { queue: 'workers', callback: () => { counts[0]++; all.push(0) } })
    nc.subscribe('jobs', { queue: 'workers', callback: () => { counts[1]++; all.push(1) } })
    nc2.subscribe('jobs', { queue: 'workers', callback: () => { counts[2]++; all.push(2) } })
    nc2.subscribe('jobs', { queue: 'audit', callback: () => all.push(3) })
    nc2.subscribe('jobs', { callback: () => plain.push(1) })
    await nc.flush()
    await nc2.flush()
    for (let i = 0; i < 100; i++) nc.publish('jobs', sc.encode(String(i)))
    await all.done
    await plain.done
    assert.equal(counts[0] + counts[1] + counts[2], 100, 'each message to one worker')
    assert.ok(counts.filter((c) => c > 0).length >= 2, `spread over workers: ${counts}`)
    await nc.close()
    await nc2.close()
  })

  ptest(`${label}: nats 2.x request/reply`, getPort, async () => {
    const nc = await nats2.connect({ servers: url() })
    const svc = await nats2.connect({ servers: url() })
    svc.subscribe('svc.echo', { callback: (_e, m) => m.respond(sc.encode('echo:' + sc.decode(m.data))) })
    await svc.flush()
    for (let i = 0; i < 5; i++) {
      const r = await nc.request('svc.echo', sc.encode('hi' + i), { timeout: 2000 })
      assert.equal(sc.decode(r.data), 'echo:hi' + i)
    }
    // Several requests in flight at once over the muxed _INBOX.<id>.* subscription.
    const rs = await Promise.all([1, 2, 3, 4].map((i) => nc.request('svc.echo', sc.encode('p' + i), { timeout: 2000 })))
    assert.deepEqual(rs.map((r) => sc.decode(r.data)), ['echo:p1', 'echo:p2', 'echo:p3', 'echo:p4'])
    // A non-muxed request uses its own inbox.
    const r = await nc.request('svc.echo', sc.encode('solo'), { timeout: 2000, noMux: true })
    assert.equal(sc.decode(r.data), 'echo:solo')
    await nc.close()
    await svc.close()
  })

  ptest(`${label}: nats 2.x unsubscribe, max and echo`, getPort, async () => {
    const nc = await nats2.connect({ servers: url() })
    const got = []
    const sub = nc.subscribe('cnt', { max: 3, callback: (_e, m) => got.push(sc.decode(m.data)) })
    await nc.flush()
    for (let i = 0; i < 6; i++) nc.publish('cnt', sc.encode(String(i)))
    await nc.flush()
    await sleep(50)
    assert.deepEqual(got, ['0', '1', '2'])
    assert.equal(sub.isClosed(), true)

    const late = []
    const s2 = nc.subscribe('late', { callback: (_e, m) => late.push(sc.decode(m.data)) })
    await nc.flush()
    nc.publish('late', sc.encode('x'))
    await nc.flush()
    s2.unsubscribe()
    nc.publish('late', sc.encode('y'))
    await nc.flush()
    await sleep(50)
    assert.deepEqual(late, ['x'])

    const noEcho = await nats2.connect({ servers: url(), noEcho: true })
    const echoed = []
    noEcho.subscribe('self', { callback: (_e, m) => echoed.push(sc.decode(m.data)) })
    await noEcho.flush()
    noEcho.publish('self', sc.encode('mine'))
    nc.publish('self', sc.encode('theirs'))
    await nc.flush()
    await noEcho.flush()
    await sleep(50)
    assert.deepEqual(echoed, ['theirs'])
    await noEcho.close()
    await nc.close()
  })

  ptest(`${label}: nats 2.x binary payloads up to max_payload`, getPort, async () => {
    const nc = await nats2.connect({ servers: url() })
    const big = Buffer.alloc(nc.info.max_payload)
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff
    const got = collect(2)
    nc.subscribe('bin', { callback: (_e, m) => got.push(Buffer.from(m.data)) })
    await nc.flush()
    nc.publish('bin', big)
    nc.publish('bin', new Uint8Array([0, 13, 10, 0]))
    const [a, b] = await got.done
    assert.ok(a.equals(big))
    assert.deepEqual([...b], [0, 13, 10, 0])
    await nc.close()
  })
}

function nats1Suite (label, getPort) {
  const url = () => `nats://127.0.0.1:${getPort()}`
  const connect1 = (opts = {}) => new Promise((resolve, reject) => {
    const nc = nats1.connect({ url: url(), ...opts })
    nc.once('connect', () => resolve(nc))
    nc.once('error', reject)
  })
  const flush = (nc) => new Promise((resolve) => nc.flush(resolve))

  ptest(`${label}: nats 1.4.12 pub/sub, wildcards and queue groups`, getPort, async () => {
    const nc = await connect1()
    const sub = await connect1()
    const wild = collect(2)
    const q = [0, 0]
    const qall = collect(50)
    sub.subscribe('a.*.c', (msg, reply, subject) => wild.push(`${subject}:${msg}`))
    sub.subscribe('a.>', { queue: 'g' }, () => { q[0]++; qall.push(0) })
    sub.subscribe('a.>', { queue: 'g' }, () => { q[1]++; qall.push(1) })
    await flush(sub)
    nc.publish('a.b.c', 'one')
    nc.publish('a.x.c', 'two')
    for (let i = 2; i < 50; i++) nc.publish('a.q', String(i))
    assert.deepEqual((await wild.done).sort(), ['a.b.c:one', 'a.x.c:two'])
    await qall.done
    assert.equal(q[0] + q[1], 50)
    nc.close()
    sub.close()
  })

  ptest(`${label}: nats 1.4.12 request/reply and max`, getPort, async () => {
    const nc = await connect1()
    const svc = await connect1()
    svc.subscribe('svc.add', (msg, reply) => svc.publish(reply, String(Number(msg) + 1)))
    await flush(svc)
    const answer = await new Promise((resolve, reject) => {
      nc.requestOne('svc.add', '41', {}, 2000, (r) => (r instanceof Error ? reject(r) : resolve(r)))
    })
    assert.equal(answer, '42')
    const answers = []
    await new Promise((resolve) => {
      nc.request('svc.add', '1', { max: 1 }, (r) => { answers.push(r); resolve() })
    })
    assert.deepEqual(answers, ['2'])

    const got = []
    const sid = nc.subscribe('m', (msg) => got.push(msg))
    nc.unsubscribe(sid, 2)
    for (let i = 0; i < 5; i++) nc.publish('m', String(i))
    await flush(nc)
    await sleep(50)
    assert.deepEqual(got, ['0', '1'])
    nc.close()
    svc.close()
  })
}


let stanPort = null
test('start stan-server (and its nats-server)', async () => {
  stanPort = (await startStan()).port
})
nats2Suite('stan-server', () => stanPort)
nats1Suite('stan-server', () => stanPort)

test("nats-server's own monitoring through stan-server's -m port", async () => {
  const srv = await startStan()
  const r = await httpGet(srv.mport, '/varz')
  assert.equal(r.status, 307)
  assert.equal(r.headers.location, `http://127.0.0.1:${srv.natsMport}/varz`)
  const varz = JSON.parse((await httpGet(srv.natsMport, '/varz')).body)
  assert.equal(varz.port, srv.port)
  const connz = JSON.parse((await httpGet(srv.natsMport, '/connz')).body)
  assert.ok(connz.connections.some((c) => c.name === 'stan-server'), 'stan-server is a client of its nats-server')
  srv.proc.kill('SIGTERM')
})

test('two stan-servers joined with --cluster/--routes route core NATS', async () => {
  const [c1, c2] = [await freePort(), await freePort()]
  const routes = `nats://127.0.0.1:${c1},nats://127.0.0.1:${c2}`
  // different cluster IDs: two streaming servers must not answer the same requests
  const a = await startStan(['-cid', 'ca', '--cluster_name', 'cl', '--cluster', `nats://127.0.0.1:${c1}`, '--routes', routes])
  const b = await startStan(['-cid', 'cb', '--cluster_name', 'cl', '--cluster', `nats://127.0.0.1:${c2}`, '--routes', routes])
  const sc = nats2.StringCodec()
  const na = await nats2.connect({ servers: `127.0.0.1:${a.port}` })
  const nb = await nats2.connect({ servers: `127.0.0.1:${b.port}` })
  const got = collect(1, 10000)
  nb.subscribe('routed', { callback: (_e, m) => got.push(sc.decode(m.data)) })
  await nb.flush()
  // the route forms in the background: publish until the subscription's interest has crossed it
  const t0 = Date.now()
  while (got.got.length === 0 && Date.now() - t0 < 10000) {
    na.publish('routed', sc.encode('over the route'))
    await na.flush()
    await sleep(100)
  }
  assert.deepEqual(await got.done, ['over the route'])
  const routez = JSON.parse((await httpGet(a.natsMport, '/routez')).body)
  assert.ok(routez.num_routes >= 1, JSON.stringify(routez))
  await na.close()
  await nb.close()
  a.proc.kill('SIGTERM')
  b.proc.kill('SIGTERM')
})
