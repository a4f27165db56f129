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

export function crc32(input: string): number {
  let crc = 0xffffffff;
  for (const byte of encoder.encode(input)) {
    crc = (TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
