// A .zip read in place: its central directory says where each file is, and a file is inflated by
// the browser's own DecompressionStream only when the page reads it. Stored and deflated files;
// ZIP64 and encrypted archives are refused with a message. No library: the format is small.
const END = 0x06054b50;  // end of central directory record
const CENTRAL = 0x02014b50;  // central directory file header
const LOCAL = 0x04034b50;  // local file header

async function bytesOf(blob, start, end) {
  return new DataView(await blob.slice(start, end).arrayBuffer());
}

// The end record is the last 22 bytes, unless the archive has a comment (at most 65,535 bytes).
async function findEnd(blob, name) {
  const start = Math.max(0, blob.size - 22 - 65535);
  const view = await bytesOf(blob, start, blob.size);
  for (let i = view.byteLength - 22; i >= 0; i--) {
    if (view.getUint32(i, true) === END) return { view, at: i };
  }
  throw new Error(`${name} is not a zip archive`);
}

// Every file of the archive as { path, size, read() } without reading any file's bytes; refused
// at once when the archive lists more than maxFiles entries.
export async function readZip(blob, name, maxFiles) {
  const { view, at } = await findEnd(blob, name);
  const count = view.getUint16(at + 10, true);
  const size = view.getUint32(at + 12, true);
  const offset = view.getUint32(at + 16, true);
  if (count === 0xffff || offset === 0xffffffff) throw new Error(`${name} is a ZIP64 archive, which this page cannot read; zip the folder with ordinary zip`);
  if (count > maxFiles) return { tooMany: count };
  const directory = await bytesOf(blob, offset, offset + size);
  const decoder = new TextDecoder();
  const files = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > directory.byteLength || directory.getUint32(p, true) !== CENTRAL) throw new Error(`${name} is a damaged zip archive`);
    const flags = directory.getUint16(p + 8, true);
    const method = directory.getUint16(p + 10, true);
    const packed = directory.getUint32(p + 20, true);
    const unpacked = directory.getUint32(p + 24, true);
    const nameLength = directory.getUint16(p + 28, true);
    const skip = directory.getUint16(p + 30, true) + directory.getUint16(p + 32, true);
    const header = directory.getUint32(p + 42, true);
    const path = decoder.decode(new Uint8Array(directory.buffer, p + 46, nameLength));
    p += 46 + nameLength + skip;
    if (path.endsWith("/")) continue;  // a folder
    files.push({ path, size: unpacked, read: () => inflate(blob, name, path, { flags, method, packed, unpacked, header }) });
  }
  return { files };
}

async function inflate(blob, name, path, { flags, method, packed, unpacked, header }) {
  if (flags & 1) throw new Error(`it is encrypted in ${name}`);
  if (method !== 0 && method !== 8) throw new Error(`${name} compresses it in a way this page cannot read (method ${method})`);
  const local = await bytesOf(blob, header, header + 30);
  if (local.getUint32(0, true) !== LOCAL) throw new Error(`${name} is a damaged zip archive`);
  const start = header + 30 + local.getUint16(26, true) + local.getUint16(28, true);
  const data = blob.slice(start, start + packed);
  const bytes = method === 0 ? await data.arrayBuffer()
    : await new Response(data.stream().pipeThrough(new DecompressionStream("deflate-raw"))).arrayBuffer();
  if (bytes.byteLength !== unpacked) throw new Error(`${name} is a damaged zip archive (${path})`);
  return bytes;
}
