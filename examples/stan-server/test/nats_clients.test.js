'use strict'
// Integration tests of the embedded NATS server (nats-lite) with the real Node clients:
// nats 2.x and nats 1.4.12 (the version node-nats-streaming 0.3.2 uses), plus raw-socket checks
// of the wire behaviour (-ERR texts, verbose +OK, auth, slow consumers).
//
// Run by `meson test --suite stan-server` with NATS_LITE set to the built binary. The clients
// come from test/node_modules: `npm ci --prefix examples/stan-server/test`.
// When Debian's nats-server is on PATH (or NATS_SERVER_BIN is set) the client tests also run
// against it, which checks that the tests assert real NATS behaviour.

const path = require('path')
const net = require('net')
const fs = require('fs')
const { spawn, spawnSync } = require('child_process')
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
    process.exit(1)
  }
}
const nats2 = need('nats')
const nats1 = need('nats1')

const NATS_LITE = process.env.NATS_LITE
if (!NATS_LITE || !fs.existsSync(NATS_LITE)) {
  console.error('stan-server tests: set NATS_LITE to the nats-lite binary (meson test does)')
  process.exit(1)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const children = []

// Starts a server binary on a free port; resolves to { port, proc }.
function startServer (bin, args, readyRe) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(proc)
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${bin} did not start: ${out}`)), 5000)
    const onData = (d) => {
      out += d.toString()
      const m = out.match(readyRe)
      if (m) {
        clearTimeout(timer)
        resolve({ port: Number(m[1]), proc })
      }
    }
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    proc.on('exit', (code) => { clearTimeout(timer); if (code) reject(new Error(`${bin} exited ${code}: ${out}`)) })
  })
}

function startLite (extra = []) {
  return startServer(NATS_LITE, ['-p', '0', ...extra], /nats-lite listening on [^:]+:(\d+)/)
}

function freePort () {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
}

async function startRealNatsServer () {
  const bin = process.env.NATS_SERVER_BIN ||
    ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => fs.existsSync(p))
  if (!bin) return null
  const port = await freePort()
  await startServer(bin, ['-a', '127.0.0.1', '-p', String(port)], new RegExp(`Listening for client connections on [^:]+:(${port})`))
  return port
}

after(() => {
  for (const c of children) c.kill('SIGTERM')
})

// Raw protocol session: sends data, collects everything until the server closes or idleMs pass.
function raw (port, data, { idleMs = 300 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    let buf = ''
    let closed = false
    let timer
    const finish = () => { clearTimeout(timer); s.destroy(); resolve({ text: buf, closed }) }
    const arm = () => { clearTimeout(timer); timer = setTimeout(finish, idleMs) }
    s.on('connect', () => { if (data) s.write(data); arm() })
    s.on('data', (d) => { buf += d.toString('latin1'); arm() })
    s.on('close', () => { closed = true; finish() })
    s.on('error', () => {})
  })
}
const lines = (t) => t.split('\r\n').filter((l) => l && !l.startsWith('INFO '))

// ---------------------------------------------------------------------------------------------
// Client suites, run against nats-lite and (when present) against Debian's nats-server.

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

let litePort
test('start nats-lite', async () => {
  litePort = (await startLite()).port
  assert.ok(litePort > 0)
})
nats2Suite('nats-lite', () => litePort)
nats1Suite('nats-lite', () => litePort)

// ---------------------------------------------------------------------------------------------
// Wire behaviour of nats-lite (raw sockets).

test('INFO fields', async () => {
  const { text } = await raw(litePort, '')
  const m = text.match(/^INFO (\{.*\})\r\n/)
  assert.ok(m, text)
  const info = JSON.parse(m[1])
  assert.equal(info.proto, 1)
  assert.equal(info.headers, false)
  assert.equal(info.max_payload, 1048576)
  assert.equal(info.host, '127.0.0.1')
  assert.equal(info.port, litePort)
  assert.ok(typeof info.server_id === 'string' && info.server_id.length > 0)
  assert.equal(info.auth_required, undefined)
})

test('verbose +OK, PING/PONG, MSG format, UNSUB max', async () => {
  const { text, closed } = await raw(litePort,
    'CONNECT {"verbose":true,"pedantic":false}\r\nSUB foo.* 7\r\nSUB foo.bar q 8\r\n' +
    'PUB foo.bar my.reply 5\r\nhello\r\nUNSUB 7 2\r\nPUB foo.bar 0\r\n\r\nPUB foo.baz 1\r\nx\r\nPING\r\n')
  assert.equal(closed, false)
  assert.deepEqual(lines(text), [
    '+OK', '+OK', '+OK', '+OK',
    'MSG foo.bar 7 my.reply 5', 'hello', 'MSG foo.bar 8 my.reply 5', 'hello',
    '+OK', '+OK', 'MSG foo.bar 7 0', 'MSG foo.bar 8 0', '+OK', 'PONG'])
})

test('invalid subjects get -ERR and the connection stays open', async () => {
  const { text, closed } = await raw(litePort,
    'CONNECT {"verbose":false}\r\nSUB a..b 1\r\nSUB a.>.c 2\r\nPUB a.* 1\r\nx\r\nPING\r\n')
  assert.equal(closed, false)
  assert.deepEqual(lines(text), ["-ERR 'Invalid Subject'", "-ERR 'Invalid Subject'",
    "-ERR 'Invalid Publish Subject'", 'PONG'])
})

const malformedCases = [
  ['FOO\r\n', "-ERR 'Unknown Protocol Operation'"],
  ['\r\n', "-ERR 'Unknown Protocol Operation'"],
  ['PUB a 3\r\nabcd\r\n', "-ERR 'Unknown Protocol Operation'"],
  ['PUB a x\r\n', "-ERR 'Unknown Protocol Operation'"],
  ['SUB a\r\n', "-ERR 'Unknown Protocol Operation'"],
  ['UNSUB\r\n', "-ERR 'Unknown Protocol Operation'"],
  ['CONNECT {bad json\r\n', "-ERR 'Unknown Protocol Operation'"],
  ['HPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n', "-ERR 'Unknown Protocol Operation'"],
  ['PUB a 2000000\r\n', "-ERR 'Maximum Payload Violation'"],
  ['SUB ' + 'a'.repeat(5000) + ' 1\r\n', "-ERR 'maximum control line exceeded'"],
  ['\x00\x01\x02\xff'.repeat(2000), "-ERR 'maximum control line exceeded'"]
]
for (const [input, err] of malformedCases) {
  test(`malformed input ${JSON.stringify(input.slice(0, 24))} -> ${err} and close`, async () => {
    const { text, closed } = await raw(litePort, 'PING\r\n' + input + 'PING\r\n', { idleMs: 2000 })
    assert.equal(closed, true, 'connection closed')
    assert.deepEqual(lines(text), ['PONG', err])
  })
}

test('input split into single bytes', async () => {
  const stream = 'CONNECT {"verbose":false}\r\nSUB s 1\r\nPUB s r 3\r\nabc\r\nPING\r\n'
  const text = await new Promise((resolve) => {
    const s = net.connect(litePort, '127.0.0.1')
    s.setNoDelay(true)
    let buf = ''
    s.on('data', (d) => { buf += d; if (buf.includes('PONG')) { s.destroy(); resolve(buf) } })
    s.on('connect', async () => {
      for (const ch of stream) { s.write(ch); await sleep(1) }
    })
  })
  assert.deepEqual(lines(text), ['MSG s 1 r 3', 'abc', 'PONG'])
})

test('slow consumer is disconnected, others keep working', async () => {
  const { port } = await startLite(['--max_pending', '65536'])
  // A subscriber that never reads.
  const slow = net.connect(port, '127.0.0.1')
  let slowClosed = false
  slow.on('close', () => { slowClosed = true })
  slow.on('error', () => {})
  await new Promise((resolve) => slow.on('connect', resolve))
  slow.write('CONNECT {"verbose":false}\r\nSUB flood 1\r\nPING\r\n')
  await sleep(100)
  slow.pause()
  const nc = await nats2.connect({ servers: `127.0.0.1:${port}` })
  const payload = Buffer.alloc(32 * 1024, 120)
  for (let i = 0; i < 1024 && !slowClosed; i++) {
    nc.publish('flood', payload)
    if (i % 64 === 0) await nc.flush()
  }
  await nc.flush()
  slow.resume() // drain what the kernel buffered, then the server's close shows
  for (let i = 0; i < 100 && !slowClosed; i++) await sleep(50)
  assert.equal(slowClosed, true, 'slow consumer closed by the server')
  // The publisher is unaffected.
  const r = await nc.request('nobody.listens', Buffer.alloc(0), { timeout: 200 }).catch((e) => e)
  assert.ok(r instanceof Error)
  await nc.flush()
  await nc.close()
})

test('user/password auth', async () => {
  const { port } = await startLite(['--user', 'alice', '--pass', 's3cret'])
  let r = await raw(port, 'PING\r\n')
  assert.match(r.text, /"auth_required":true/)
  assert.deepEqual(lines(r.text), ["-ERR 'Authorization Violation'"])
  assert.equal(r.closed, true)
  r = await raw(port, 'CONNECT {"user":"alice","pass":"wrong"}\r\nPING\r\n')
  assert.deepEqual(lines(r.text), ["-ERR 'Authorization Violation'"])
  assert.equal(r.closed, true)
  r = await raw(port, 'CONNECT {"user":"alice","pass":"s3cret","verbose":false}\r\nPING\r\n')
  assert.deepEqual(lines(r.text), ['PONG'])
  assert.equal(r.closed, false)

  const nc = await nats2.connect({ servers: `127.0.0.1:${port}`, user: 'alice', pass: 's3cret' })
  await nc.flush()
  await nc.close()
  await assert.rejects(nats2.connect({ servers: `127.0.0.1:${port}`, user: 'alice', pass: 'bad', reconnect: false }),
    (e) => /Authorization Violation/i.test(e.message) || e.code === 'AUTHORIZATION_VIOLATION')
  const nc1 = await new Promise((resolve, reject) => {
    const c = nats1.connect({ url: `nats://alice:s3cret@127.0.0.1:${port}` })
    c.once('connect', () => resolve(c)); c.once('error', reject)
  })
  nc1.close()
})

test('token auth and auth timeout', async () => {
  const { port } = await startLite(['--auth', 'tok'])
  let r = await raw(port, 'CONNECT {"auth_token":"tok","verbose":true}\r\nPING\r\n')
  assert.deepEqual(lines(r.text), ['+OK', 'PONG'])
  r = await raw(port, 'CONNECT {"auth_token":"nope"}\r\n')
  assert.deepEqual(lines(r.text), ["-ERR 'Authorization Violation'"])
  r = await raw(port, '', { idleMs: 4000 })
  assert.deepEqual(lines(r.text), ["-ERR 'Authentication Timeout'"])
  assert.equal(r.closed, true)
  const nc = await nats2.connect({ servers: `127.0.0.1:${port}`, token: 'tok' })
  await nc.close()
})

test('nats-lite exits cleanly on SIGTERM', async () => {
  const { proc } = await startLite()
  const code = await new Promise((resolve) => { proc.on('exit', (c, sig) => resolve(c ?? sig)); proc.kill('SIGTERM') })
  assert.equal(code, 0)
})

test('unknown flag is an error', () => {
  const r = spawnSync(NATS_LITE, ['--bogus'])
  assert.equal(r.status, 2)
  assert.match(r.stderr.toString(), /unknown flag '--bogus'/)
})

// ---------------------------------------------------------------------------------------------
// The same client suites against Debian's nats-server, when installed: the tests must hold
// there too.
let realPort = null
test('start Debian nats-server (reference, optional)', async (t) => {
  realPort = await startRealNatsServer().catch(() => null)
  if (!realPort) t.skip('nats-server not installed')
})
nats2Suite('nats-server', () => realPort)
nats1Suite('nats-server', () => realPort)
