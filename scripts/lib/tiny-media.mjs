/**
 * Tiny media samples made at run time, so fixtures carry no binary blobs: a PNG of one colour and
 * a WAV tone, both base64 (what MCP image and audio content and blob resources carry).
 */
import { deflateSync } from "node:zlib";

/** A `width`×`height` PNG of one colour, base64. @param {number} width @param {number} height @param {[number, number, number]} rgb */
export function pngBase64(width, height, rgb) {
  const chunk = (/** @type {string} */ type, /** @type {Buffer} */ data) => {
    const typeAndData = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    typeAndData.copy(out, 4);
    out.writeUInt32BE(crc32(typeAndData), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const row = Buffer.from([0, ...Array.from({ length: width }, () => rgb).flat()]); // filter byte 0 + pixels
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(pixels)),
    chunk("IEND", Buffer.alloc(0)),
  ]).toString("base64");
}

/** A mono 8-bit PCM WAV sine tone, base64. @param {number} sampleRate @param {number} seconds @param {number} hz */
export function wavBase64(sampleRate, seconds, hz) {
  const samples = Math.round(sampleRate * seconds);
  const out = Buffer.alloc(44 + samples);
  out.write("RIFF", 0, "ascii");
  out.writeUInt32LE(36 + samples, 4);
  out.write("WAVEfmt ", 8, "ascii");
  out.writeUInt32LE(16, 16); // fmt chunk size
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate, 28); // byte rate
  out.writeUInt16LE(1, 32); // block align
  out.writeUInt16LE(8, 34); // bits per sample
  out.write("data", 36, "ascii");
  out.writeUInt32LE(samples, 40);
  for (let i = 0; i < samples; i++) out[44 + i] = 128 + Math.round(60 * Math.sin((2 * Math.PI * hz * i) / sampleRate));
  return out.toString("base64");
}

/** @param {Buffer} bytes */
function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
