// CRC-32 (IEEE 802.3, the zlib/PNG polynomial), as used by GitHub-style token checksums.

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

const encoder = new TextEncoder();

/** CRC-32 of the UTF-8 bytes of `input` (of `input.slice(start, end)` when given). */
export function crc32(input: string, start = 0, end = input.length): number {
  // ASCII (every key, once its format regexes passed) is its own UTF-8: no byte array needed.
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) {
    const code = input.charCodeAt(i);
    if (code > 0x7f) return crc32Bytes(encoder.encode(input.slice(start, end)));
    crc = (TABLE[(crc ^ code) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function crc32Bytes(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = (TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
