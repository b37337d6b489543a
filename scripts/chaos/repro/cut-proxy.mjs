// A TCP proxy in front of the test database that, once, lets a chosen
// command reach the server and be applied, then cuts the client's
// connection instead of passing the reply on: what a database crash or a
// network failure does to a write in flight, at an exact point.
import net from 'node:net'

const OP_MSG = 2013

/** The command name and the raw bytes of one OP_MSG (null for other opcodes). */
function command (message) {
  if (message.readInt32LE(12) !== OP_MSG) return null
  // Header (16 bytes), flagBits (4), then section kind 0 (1 byte) and its
  // BSON document: length (4), first element's type (1), its name (cstring).
  const nameStart = 16 + 4 + 1 + 4 + 1
  const nameEnd = message.indexOf(0, nameStart)
  return message.toString('latin1', nameStart, nameEnd)
}

/**
 * Listens on a free port and forwards to `target` (`{ host, port }`).
 * `matches(name, bytes)` picks the command whose reply is cut; only the
 * first match is cut. Resolves with `{ port, cut, resume(), close() }`:
 * `cut` resolves with the name of the command once its reply has been
 * dropped; from then on, connections are held (not passed on) until
 * `resume()`, so the database can be restarted before the client's retry
 * reaches it.
 */
export async function cutProxy (target, matches) {
  let armed = true
  let onCut
  const cut = new Promise((resolve) => { onCut = resolve })
  let resume = () => {}
  let held = Promise.resolve()
  const sockets = new Set()
  const server = net.createServer(async (client) => {
    sockets.add(client)
    client.pause()
    await held
    client.resume()
    const upstream = net.connect(target)
    sockets.add(upstream)
    for (const s of [client, upstream]) {
      s.on('error', () => {})
      s.on('close', () => { client.destroy(); upstream.destroy(); sockets.delete(s) })
    }
    let dropReplyTo = null
    let pending = Buffer.alloc(0)
    client.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const message = pending.subarray(0, pending.readInt32LE(0))
        pending = pending.subarray(message.length)
        const name = command(message)
        if (armed && name !== null && matches(name, message)) {
          armed = false
          dropReplyTo = { id: message.readInt32LE(4), name }
        }
        upstream.write(message)
      }
    })
    let replies = Buffer.alloc(0)
    upstream.on('data', (chunk) => {
      if (dropReplyTo === null) return client.write(chunk)
      replies = Buffer.concat([replies, chunk])
      while (replies.length >= 4 && replies.length >= replies.readInt32LE(0)) {
        const reply = replies.subarray(0, replies.readInt32LE(0))
        replies = replies.subarray(reply.length)
        if (reply.readInt32LE(8) === dropReplyTo.id) {
          // The server has applied the command and answered: the client
          // never hears of it.
          held = new Promise((resolve) => { resume = resolve })
          client.destroy()
          upstream.destroy()
          onCut(dropReplyTo.name)
          return
        }
        client.write(reply)
      }
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    cut,
    resume: () => resume(),
    close () {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(resolve))
    }
  }
}
