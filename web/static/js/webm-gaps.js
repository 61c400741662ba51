// Bridging holes in a recorded segment's Opus audio before it goes to Media Source
// Extensions. The recorder keeps exactly the packets that arrived, so audio lost on the
// network (or never sent) leaves holes; Chromium splits its buffered ranges at each one
// and the video stalls there (a segment with no audio packet at all has no buffered range).
// Each hole is filled with empty Opus frames, which a decoder plays as silence. Only the
// bytes handed to the player change; the stored file and its SHA-256 do not.

const ID = {
  SEGMENT: 0x18538067,
  INFO: 0x1549a966,
  TIMESTAMP_SCALE: 0x2ad7b1,
  TRACKS: 0x1654ae6b,
  TRACK_ENTRY: 0xae,
  TRACK_NUMBER: 0xd7,
  CODEC_ID: 0x86,
  CLUSTER: 0x1f43b675,
  TIMESTAMP: 0xe7,
  SIMPLE_BLOCK: 0xa3,
  BLOCK_GROUP: 0xa0,
  BLOCK: 0xa1,
};
const MAX_TRACK = 126; // a one-byte track number, enough for a phone's two tracks

class Unsupported extends Error {}

/** An EBML variable-length integer at `pos`: an element ID (marker kept) or a size. */
function readVint(bytes, pos, isId) {
  const first = bytes[pos];
  if (!first) throw new Unsupported('not EBML');
  const length = Math.clz32(first) - 23;
  let value = isId ? first : first & (0xff >> length);
  let ones = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + bytes[pos + i];
    ones = ones && bytes[pos + i] === 0xff;
  }
  if (!isId && ones) throw new Unsupported('element of unknown size');
  return { value, length };
}

function* children(bytes, start, end) {
  let pos = start;
  while (pos < end) {
    const id = readVint(bytes, pos, true);
    const size = readVint(bytes, pos + id.length, false);
    const dataStart = pos + id.length + size.length;
    const dataEnd = dataStart + size.value;
    if (dataEnd > end) throw new Unsupported('truncated element');
    yield { id: id.value, start: pos, dataStart, dataEnd };
    pos = dataEnd;
  }
}

function readUint(bytes, start, end) {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 256 + bytes[i];
  return value;
}

function find(bytes, parent, id) {
  for (const child of children(bytes, parent.dataStart, parent.dataEnd)) if (child.id === id) return child;
  return null;
}

/** Duration in milliseconds of one Opus frame with this table-of-contents byte (RFC 6716). */
function frameMs(toc) {
  const config = toc >> 3;
  if (config < 12) return [10, 20, 40, 60][config % 4];
  if (config < 16) return [10, 20][config % 2];
  return [2.5, 5, 10, 20][config % 4];
}

/** Duration in milliseconds of an Opus packet. */
export function opusMs(packet) {
  if (!packet.length) return 0;
  const code = packet[0] & 3;
  const frames = code === 0 ? 1 : code === 3 ? (packet[1] || 0) & 0x3f : 2;
  return frameMs(packet[0]) * frames;
}

/** {number, opus} of each track. */
function tracks(bytes, tracksElement) {
  const out = [];
  for (const entry of children(bytes, tracksElement.dataStart, tracksElement.dataEnd)) {
    if (entry.id !== ID.TRACK_ENTRY) continue;
    const number = find(bytes, entry, ID.TRACK_NUMBER);
    const codec = find(bytes, entry, ID.CODEC_ID);
    const name = codec ? String.fromCharCode(...bytes.subarray(codec.dataStart, codec.dataEnd)) : '';
    if (number) out.push({ number: readUint(bytes, number.dataStart, number.dataEnd), opus: name === 'A_OPUS' });
  }
  return out;
}

/** A block's track and timestamp, from a SimpleBlock's or Block's data. */
function blockHeader(bytes, dataStart, clusterTime) {
  const track = readVint(bytes, dataStart, false);
  const at = dataStart + track.length;
  const relative = ((bytes[at] << 8) | bytes[at + 1]) << 16 >> 16;
  const flags = bytes[at + 2];
  return { track: track.value, time: clusterTime + relative, laced: (flags & 0x06) !== 0, payload: at + 3 };
}

function clusterOf(bytes, cluster, opusTrack) {
  const timestamp = find(bytes, cluster, ID.TIMESTAMP);
  if (!timestamp) throw new Unsupported('cluster without timestamp');
  const time = readUint(bytes, timestamp.dataStart, timestamp.dataEnd);
  const blocks = [];
  for (const child of children(bytes, cluster.dataStart, cluster.dataEnd)) {
    let data = null;
    if (child.id === ID.SIMPLE_BLOCK) data = child;
    else if (child.id === ID.BLOCK_GROUP) data = find(bytes, child, ID.BLOCK);
    if (!data) continue;
    const header = blockHeader(bytes, data.dataStart, time);
    const audio = header.track === opusTrack;
    if (audio && header.laced) throw new Unsupported('laced audio');
    const block = { time: header.time, audio, raw: bytes.subarray(child.start, child.dataEnd) };
    if (audio) block.packet = bytes.subarray(header.payload, data.dataEnd);
    blocks.push(block);
  }
  return { time, timestampRaw: bytes.subarray(timestamp.start, timestamp.dataEnd), blocks };
}

/** Empty frames at evenly spread times covering [from, to): none if less than one frame fits. */
function spread(from, to, frame) {
  const count = Math.floor((to - from) / frame);
  const step = (to - from) / Math.max(count, 1);
  return Array.from({ length: count }, (_, i) => Math.round(from + i * step));
}

// A 20 ms CELT frame, mono, one frame in the packet: for a segment without a single audio
// packet to copy the mode from (RFC 6716, 3.1).
const SILENT_TOC = (31 << 3) | 0;

/** Times (in timestamp ticks) of the empty frames that fill the holes, and their TOC byte. */
function fillers(clusters, tick) {
  const all = clusters.flatMap((c) => c.blocks);
  const audio = all.filter((b) => b.audio).sort((a, b) => a.time - b.time);
  const video = all.filter((b) => !b.audio).map((b) => b.time).sort((a, b) => a - b);
  if (!video.length) return null;
  const toc = audio.length ? audio[0].packet[0] : SILENT_TOC;
  const emptyToc = frameMs(toc) >= 10 ? toc & 0xfc : (31 << 3) | (toc & 4);
  const frame = frameMs(emptyToc) / tick;
  const lastGap = video.length > 1 ? video[video.length - 1] - video[video.length - 2] : frame;
  const end = video[video.length - 1] + lastGap;
  // No audio at all (it all came too late for this segment, say): silence under all of the
  // video, which would otherwise not play (a player buffers where both tracks have data).
  if (!audio.length) return { times: spread(video[0], end, frame), toc: emptyToc };
  const times = spread(video[0], audio[0].time, frame);
  audio.forEach((block, i) => {
    const from = block.time + opusMs(block.packet) / tick;
    const to = i + 1 < audio.length ? audio[i + 1].time : end;
    times.push(...spread(from, to, frame));
  });
  return { times, toc: emptyToc };
}

function sizeVint(n) {
  const out = new Uint8Array(8);
  out[0] = 0x01;
  for (let i = 7, v = n; i > 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

function idBytes(id) {
  const out = [];
  for (let v = id; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Uint8Array.from(out);
}

function element(id, parts) {
  const size = parts.reduce((sum, part) => sum + part.length, 0);
  return [idBytes(id), sizeVint(size), ...parts];
}

function emptyFrame(track, relative, toc) {
  return Uint8Array.of(ID.SIMPLE_BLOCK, 0x85, 0x80 | track, (relative >> 8) & 0xff, relative & 0xff, 0x80, toc);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

function rebuild(bytes, header, info, tracksElement, clusters, fill, track) {
  const clusterParts = [];
  clusters.forEach((cluster, i) => {
    const until = i + 1 < clusters.length ? clusters[i + 1].time : Infinity;
    const blocks = cluster.blocks.map((b) => ({ time: b.time, raw: b.raw }));
    for (const time of fill.times) {
      if ((time >= cluster.time || i === 0) && time < until) {
        blocks.push({ time, raw: emptyFrame(track, time - cluster.time, fill.toc) });
      }
    }
    blocks.sort((a, b) => a.time - b.time);
    clusterParts.push(...element(ID.CLUSTER, [cluster.timestampRaw, ...blocks.map((b) => b.raw)]));
  });
  const body = [bytes.subarray(info.start, info.dataEnd), bytes.subarray(tracksElement.start, tracksElement.dataEnd), ...clusterParts];
  return concat([bytes.subarray(0, header.dataEnd), ...element(ID.SEGMENT, body)]).buffer;
}

/**
 * The segment with its audio holes filled, or the very same ArrayBuffer when it has none
 * (or is not a WebM file this understands).
 */
export function fillAudioGaps(buffer) {
  const bytes = new Uint8Array(buffer);
  try {
    const top = [...children(bytes, 0, bytes.length)];
    const header = top[0];
    const segment = top.find((e) => e.id === ID.SEGMENT);
    if (!segment || header.id === ID.SEGMENT) return buffer;
    const parts = [...children(bytes, segment.dataStart, segment.dataEnd)];
    const info = parts.find((e) => e.id === ID.INFO);
    const tracksElement = parts.find((e) => e.id === ID.TRACKS);
    if (!info || !tracksElement) return buffer;
    const scale = find(bytes, info, ID.TIMESTAMP_SCALE);
    const tick = scale ? readUint(bytes, scale.dataStart, scale.dataEnd) / 1e6 : 1; // ms per tick
    const opus = tracks(bytes, tracksElement).find((t) => t.opus);
    if (!opus || opus.number > MAX_TRACK) return buffer;
    const clusters = parts.filter((e) => e.id === ID.CLUSTER).map((c) => clusterOf(bytes, c, opus.number));
    const fill = fillers(clusters, tick);
    if (!fill || !fill.times.length) return buffer;
    return rebuild(bytes, header, info, tracksElement, clusters, fill, opus.number);
  } catch (error) {
    if (error instanceof Unsupported) return buffer;
    throw error;
  }
}
