'use strict'
// Reads frames (`FRAME` in wire.js: a u32 length, then that many bytes)
// off a socket through `net.Socket`'s `onread`, whose buffer may change at
// every read. Small frames arrive many to a read in one reused buffer; the
// rest of a large one is read straight into a buffer of its own size. So
// every byte is copied at most once, whatever the size of the frame.

const { FRAME } = require('./wire')

/** The reused buffer small frames are read into. */
const CHUNK_BYTES = 65536

class FrameReader {
  /**
   * `onFrame(bytes, start, end)` gets each frame's bytes; `bytes` is only
   * valid during the call when it is the reused buffer (`isShared`).
   */
  constructor (onFrame) {
    this.onFrame = onFrame
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES)
    /** A length not read whole yet (a read ended inside it). */
    this.head = Buffer.alloc(FRAME.HEADER_BYTES)
    this.headFilled = 0
    /** The frame being filled, when a read ended inside it. */
    this.body = null
    this.filled = 0
  }

  /** The buffer the next read goes into (`onread.buffer`). */
  next () {
    const body = this.body
    // The rest of a frame larger than the reused buffer goes straight into
    // it: the read stops at its end, never inside the next frame.
    if (body !== null && body.length - this.filled >= CHUNK_BYTES) return body.subarray(this.filled)
    return this.chunk
  }

  /** Whether `bytes` is the reused buffer (valid only until the next read). */
  isShared (bytes) {
    return bytes === this.chunk
  }

  /** `n` bytes were read into `buffer`, which `next()` gave. */
  onRead (n, buffer) {
    if (buffer !== this.chunk) {
      this.filled += n
      if (this.filled === this.body.length) this.finish()
      return
    }
    let at = 0
    while (at < n) {
      if (this.body !== null) {
        const take = Math.min(n - at, this.body.length - this.filled)
        buffer.copy(this.body, this.filled, at, at + take)
        this.filled += take
        at += take
        if (this.filled === this.body.length) this.finish()
        continue
      }
      let length
      if (this.headFilled === 0 && n - at >= FRAME.HEADER_BYTES) {
        length = buffer.readUInt32LE(at)
        at += FRAME.HEADER_BYTES
      } else {
        const take = Math.min(n - at, FRAME.HEADER_BYTES - this.headFilled)
        buffer.copy(this.head, this.headFilled, at, at + take)
        this.headFilled += take
        at += take
        if (this.headFilled < FRAME.HEADER_BYTES) return
        this.headFilled = 0
        length = this.head.readUInt32LE(0)
      }
      if (length > FRAME.MAX_BYTES) throw new Error(`a frame of ${length} bytes is larger than ${FRAME.MAX_BYTES}: the stream is corrupt`)
      if (n - at >= length) {
        this.onFrame(buffer, at, at + length)
        at += length
      } else {
        this.body = Buffer.allocUnsafeSlow(length)
        this.filled = 0
      }
    }
  }

  finish () {
    const body = this.body
    this.body = null
    this.onFrame(body, 0, body.length)
  }
}

module.exports = { FrameReader, CHUNK_BYTES }
