'use strict'
// Reads frames (`FRAME` in wire.js: a u32 header, then that many bytes) off
// a socket through `net.Socket`'s `onread`, whose buffer may change at
// every read. Small frames arrive many to a read in one reused buffer; the
// rest of a large one is read straight into a buffer of its own size. So
// every byte is copied at most once, whatever the size of the frame.
//
// A large text or JSON frame is read once into a string, so its buffer is
// kept for the next one (touching fresh memory costs more than the copy),
// and let go of after a while without one.

const { FRAME } = require('./wire')

/** The reused buffer small frames are read into. */
const CHUNK_BYTES = 65536
/** How long a kept buffer waits for the next large frame. */
const SPARE_KEPT_MS = 1000

class FrameReader {
  /**
   * `onFrame(kind, bytes, start, end)` gets each frame's kind (`FRAME.JSON`,
   * `BYTES`, `TEXT`) and bytes. `bytes` is only valid during the call when
   * it is the reused buffer (`isShared`); a bytes frame read on its own is
   * a plain Uint8Array of exactly its bytes, which the callee may keep; a
   * text or JSON frame must be read during the call. `release(buffer)`
   * lets go of a buffer's memory at once.
   */
  constructor (onFrame, release = () => {}) {
    this.onFrame = onFrame
    this.release = release
    /** The buffer large text and JSON frames are read into, kept for the next. */
    this.spare = null
    this.spareUsed = false
    this.spareTimer = null
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES)
    /** A header not read whole yet (a read ended inside it). */
    this.head = Buffer.alloc(FRAME.HEADER_BYTES)
    this.headFilled = 0
    /** The frame being filled, when a read ended inside it, and its kind. */
    this.body = null
    this.kind = FRAME.JSON
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
        this.body.set(buffer.subarray(at, at + take), this.filled)
        this.filled += take
        at += take
        if (this.filled === this.body.length) this.finish()
        continue
      }
      let header
      if (this.headFilled === 0 && n - at >= FRAME.HEADER_BYTES) {
        header = buffer.readUInt32LE(at)
        at += FRAME.HEADER_BYTES
      } else {
        const take = Math.min(n - at, FRAME.HEADER_BYTES - this.headFilled)
        buffer.copy(this.head, this.headFilled, at, at + take)
        this.headFilled += take
        at += take
        if (this.headFilled < FRAME.HEADER_BYTES) return
        this.headFilled = 0
        header = this.head.readUInt32LE(0)
      }
      const kind = header >>> FRAME.KIND_SHIFT
      const length = header & FRAME.LENGTH_BITS
      if (kind > FRAME.TEXT || length > FRAME.MAX_BYTES) {
        throw new Error(`a frame header of ${header} (kind ${kind}, ${length} bytes) is impossible: the stream is corrupt`)
      }
      if (n - at >= length) {
        this.onFrame(kind, buffer, at, at + length)
        at += length
      } else {
        // Bytes get a plain Uint8Array, which becomes the value itself.
        this.body = kind === FRAME.BYTES ? new Uint8Array(length) : this.spareOf(length)
        this.kind = kind
        this.filled = 0
      }
    }
  }

  /** `length` bytes of the kept buffer, grown when too small. */
  spareOf (length) {
    if (this.spare === null || this.spare.length < length) {
      if (this.spare !== null) this.release(this.spare)
      this.spare = Buffer.allocUnsafeSlow(length)
    }
    this.spareUsed = true
    if (this.spareTimer === null) {
      this.spareTimer = setTimeout(() => this.dropSpare(), SPARE_KEPT_MS)
      this.spareTimer.unref()
    }
    return this.spare.subarray(0, length)
  }

  /** Lets the kept buffer go when no large frame came since the last look. */
  dropSpare () {
    this.spareTimer = null
    if (this.spareUsed) {
      this.spareUsed = false
      this.spareTimer = setTimeout(() => this.dropSpare(), SPARE_KEPT_MS)
      this.spareTimer.unref()
      return
    }
    // Not while one is read into it.
    if (this.spare !== null && (this.body === null || this.body.buffer !== this.spare.buffer)) {
      this.release(this.spare)
      this.spare = null
    }
  }

  finish () {
    const body = this.body
    this.body = null
    this.onFrame(this.kind, body, 0, body.length)
  }
}

module.exports = { FrameReader, CHUNK_BYTES }
