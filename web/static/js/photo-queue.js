// Phone: photos wait in the page's own storage (IndexedDB) until the server has them. Each is
// stored with the SHA-256 of its exact bytes and the phone's capture time before any upload,
// sent one at a time when the link allows, retried with back-off (and at once when the
// network or the signaling socket comes back), and deleted only once the server answered
// 201 with the same SHA-256. A reload of the invite link finds the queue and resumes it.
// When the server will never take them (the audit is completed, the link revoked or expired)
// the photos are "stranded": kept, never retried, and offered to the person to save.

const DB_NAME = 'vaudit-photos';
const META = 'meta'; // what the queue needs to decide, small: read whole at start
const BYTES = 'bytes'; // the photos themselves, read one at a time when sent

export const MAX_QUEUED = 30;
export const MAX_QUEUED_BYTES = 200 * 1024 * 1024;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 20_000;
const MAX_MISMATCHES = 3; // the same bytes hashed differently this often: they are damaged here
const MAX_REPORTED_AGE_S = 365 * 24 * 3600; // the server's bound on `oldest_s`
const BASE_TIMEOUT_MS = 60_000;
const FLOOR_BYTES_PER_MS = 8; // a ~64 kbit/s link: slower than that, give up and retry

/** Hexadecimal SHA-256 of an ArrayBuffer. */
export async function sha256Hex(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Why the server will never take this audit's photos: the answers that end a link for good. */
export function strandedBy(status) {
  if (status === 409) return 'closed';
  if (status === 401 || status === 403 || status === 404) return 'ended';
  return null;
}

/** A file name for a photo: when it was taken and the start of its SHA-256 ("photo-2025-03-04_10-22-05Z-3fa2b1c09e4d.jpg"). */
export function fileName(item) {
  const when = new Date(item.takenAt);
  const stamp = Number.isNaN(when.getTime()) ? 'undated' : when.toISOString().slice(0, 19).replace('T', '_').replaceAll(':', '-') + 'Z';
  const ext = ((item.name || '').match(/\.([a-z0-9]{1,5})$/i) || [])[1] || ((item.type || '').split('/')[1] || 'jpg').replace('jpeg', 'jpg');
  return `photo-${stamp}-${item.sha256.slice(0, 12)}.${ext.toLowerCase()}`;
}

/** The queue refuses a new photo: it holds `MAX_QUEUED` photos or `MAX_QUEUED_BYTES` already. */
export class QueueFull extends Error {}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error || new Error('storage transaction failed'));
  });
}

/** The photos in IndexedDB: metadata and bytes in two stores, written and deleted together. */
class DiskStore {
  static async open() {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(META, { keyPath: 'id' });
      req.result.createObjectStore(BYTES);
    };
    return new DiskStore(await request(req));
  }

  constructor(db) { this.db = db; this.durable = true; }

  async all() { return request(this.db.transaction(META).objectStore(META).getAll()); }

  async put(meta, bytes) {
    const tx = this.db.transaction([META, BYTES], 'readwrite');
    tx.objectStore(META).put(meta);
    if (bytes) tx.objectStore(BYTES).put(bytes, meta.id);
    await done(tx);
  }

  async bytes(id) { return request(this.db.transaction(BYTES).objectStore(BYTES).get(id)); }

  async remove(id) {
    const tx = this.db.transaction([META, BYTES], 'readwrite');
    tx.objectStore(META).delete(id);
    tx.objectStore(BYTES).delete(id);
    await done(tx);
  }
}

/** Where IndexedDB is unavailable (a private window of some browsers): the page's memory. */
class MemoryStore {
  constructor() { this.metas = new Map(); this.blobs = new Map(); this.durable = false; }
  async all() { return [...this.metas.values()]; }
  async put(meta, bytes) { this.metas.set(meta.id, meta); if (bytes) this.blobs.set(meta.id, bytes); }
  async bytes(id) { return this.blobs.get(id); }
  async remove(id) { this.metas.delete(id); this.blobs.delete(id); }
}

/**
 * Events: `change` (the queue of this audit changed: `detail` is `state()`), `refused`
 * (`detail` `{item, text}`: the server will never take it, so it left the queue), `stranded`
 * (`detail` `{reason: 'closed' | 'ended', items}`: the server will never take any photo of this
 * audit again; they stay here, unsent, for the person to save).
 */
export class PhotoQueue extends EventTarget {
  /** `problem(status, body, retryAfter)` is the person's text for a final refusal. */
  /** `ended` ('closed' | 'ended'): the server is known to refuse this audit's uploads already. */
  constructor({ auditId, token, problem, damaged, ended = null }) {
    super();
    this.audit = auditId;
    this.url = `/api/audits/${encodeURIComponent(auditId)}/photos`;
    this.token = token;
    this.problem = problem;
    this.damaged = damaged;
    this.store = null;
    this.items = []; // metadata of every queued photo, all audits (the bounds count them all)
    this.running = false;
    this.stopped = false;
    this.timer = 0;
    this.inflight = null; // the AbortController of the upload under way
    this.waiters = new Map(); // id -> {promise, resolve} of `settled(id)`: the first outcome
    this.ready = null;
    this.stranded = null; // 'closed' | 'ended' once the server ended this audit's uploads
    this.ended = ended;
  }

  /** Open the page's storage and resume sending what an earlier visit left. */
  open() {
    this.ready = this.ready || this.load();
    return this.ready;
  }

  async load() {
    try {
      this.store = await DiskStore.open();
    } catch {
      this.store = new MemoryStore();
    }
    this.items = (await this.store.all()).sort((a, b) => a.queuedAt - b.queuedAt);
    window.addEventListener('online', () => this.retryNow());
    window.addEventListener('offline', () => this.inflight && this.inflight.abort());
    this.changed();
    const known = this.ended || (this.mine().find((item) => item.stranded) || {}).stranded;
    if (known) await this.markStranded(known);
    else this.kick();
  }

  get durable() { return Boolean(this.store && this.store.durable); }

  mine() { return this.items.filter((item) => item.audit === this.audit); }

  /** `{count, bytes, oldest_s}` of this audit's photos on the phone (`oldest_s`: the longest wait). */
  state() {
    const mine = this.mine();
    const oldest = mine.reduce((min, item) => Math.min(min, item.queuedAt), Infinity);
    const waited = Math.min(MAX_REPORTED_AGE_S, Math.max(0, (Date.now() - oldest) / 1000));
    return {
      count: mine.length,
      bytes: mine.reduce((sum, item) => sum + item.size, 0),
      oldest_s: mine.length ? Math.round(waited * 10) / 10 : null,
      // Each photo's SHA-256: the server counts off one that arrives before the next report.
      sha256s: mine.map((item) => item.sha256),
    };
  }

  /** Store a photo (a Blob) before sending it; throws `QueueFull` rather than drop one. */
  async add(blob, { takenAt, checkpoint, requestId, camera, location }) {
    await this.open();
    const total = this.items.reduce((sum, item) => sum + item.size, 0);
    if (this.items.length >= MAX_QUEUED || total + blob.size > MAX_QUEUED_BYTES) throw new QueueFull();
    const bytes = await blob.arrayBuffer();
    const item = {
      id: crypto.randomUUID(),
      audit: this.audit,
      type: blob.type || 'image/jpeg',
      name: blob.name || `photo.${((blob.type || '').split('/')[1] || 'jpg').replace('jpeg', 'jpg')}`,
      size: bytes.byteLength,
      sha256: await sha256Hex(bytes),
      takenAt,
      checkpoint: checkpoint || null,
      requestId: requestId || null,
      camera: Number.isInteger(camera) ? camera : null,
      location: location || null,
      queuedAt: Date.now(),
      attempts: 0,
      mismatches: 0,
      nextAt: 0,
    };
    try {
      await this.store.put(item, bytes);
    } catch (error) {
      if (error && error.name === 'QuotaExceededError') throw new QueueFull();
      throw error;
    }
    this.items.push(item);
    this.settled(item.id); // before the first attempt, which may settle at once (offline)
    this.changed();
    this.kick();
    return item;
  }

  /** The first outcome of sending `id`: `{state: 'sent' | 'queued' | 'refused', text?}`. */
  settled(id) {
    if (!this.waiters.has(id)) {
      let resolve;
      const promise = new Promise((ok) => { resolve = ok; });
      this.waiters.set(id, { promise, resolve });
    }
    return this.waiters.get(id).promise;
  }

  /** The link is back (network, signaling): try every photo now instead of at its back-off. */
  retryNow() {
    for (const item of this.items) item.nextAt = 0;
    this.kick();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.inflight) this.inflight.abort();
  }

  /**
   * The server will never take this audit's photos (`reason` 'closed': the audit is completed;
   * 'ended': the link was revoked or expired). Stop sending, keep every photo, remember why
   * (a reload shows it at once), and tell whoever waits.
   */
  async strand(reason) {
    await this.open();
    if (!this.stranded) await this.markStranded(reason);
  }

  async markStranded(reason) {
    this.stranded = reason;
    this.stop();
    for (const item of this.mine()) {
      if (item.stranded !== reason) {
        item.stranded = reason;
        try { await this.store.put(item); } catch { /* kept in memory: the photo itself stays */ }
      }
      this.settle(item, { state: 'stranded', reason });
    }
    this.dispatchEvent(new CustomEvent('stranded', { detail: { reason, items: this.mine() } }));
  }

  /** A photo's bytes as a Blob of its type, for saving it on the phone. */
  async blob(item) {
    const bytes = await this.store.bytes(item.id);
    return bytes ? new Blob([bytes], { type: item.type }) : null;
  }

  kick() {
    clearTimeout(this.timer);
    if (!this.stopped && this.store) this.pump();
  }

  async pump() {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped) {
        if (navigator.onLine === false) {
          // Nothing can go out: say so at once to whoever waits, and wait for `online`.
          for (const item of this.mine()) this.settle(item, { state: 'queued' });
          break;
        }
        const due = this.mine().filter((item) => item.nextAt <= Date.now());
        if (!due.length) break;
        await this.send(due[0]);
      }
    } finally {
      this.running = false;
    }
    const waiting = this.mine();
    if (this.stopped || !waiting.length || navigator.onLine === false) return;
    const next = Math.min(...waiting.map((item) => item.nextAt));
    this.timer = setTimeout(() => this.kick(), Math.max(50, next - Date.now()));
  }

  async send(item) {
    const bytes = await this.store.bytes(item.id);
    if (!bytes) {
      await this.drop(item, this.damaged());
      return;
    }
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: item.type }), item.name);
    form.append('sha256', item.sha256);
    form.append('device_time', item.takenAt);
    if (item.checkpoint) form.append('checkpoint', item.checkpoint);
    if (Number.isInteger(item.camera)) form.append('camera', String(item.camera));
    if (item.location) {
      form.append('lat', String(item.location.lat));
      form.append('lon', String(item.location.lon));
      if (Number.isFinite(item.location.accuracy)) form.append('accuracy', String(item.location.accuracy));
    }
    const abort = (this.inflight = new AbortController());
    const timeout = setTimeout(() => abort.abort(), BASE_TIMEOUT_MS + item.size / FLOOR_BYTES_PER_MS);
    let response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { Authorization: `Invite ${this.token}`, 'Idempotency-Key': item.id },
        body: form,
        credentials: 'omit',
        signal: abort.signal,
      });
    } catch {
      response = null; // offline, a dropped link, a timeout: the photo stays
    } finally {
      clearTimeout(timeout);
      this.inflight = null;
    }
    await this.answered(item, response);
  }

  async answered(item, response) {
    if (!response) return this.later(item);
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    if (response.status === 201 && body && body.sha256 === item.sha256) return this.sent(item);
    if (response.status === 201) {
      // Another photo was stored under this key (it cannot be this one): send it under a new key.
      await this.rekey(item);
      return this.later(item);
    }
    const code = body && body.error && body.error.code;
    const retryAfter = response.headers.get('Retry-After');
    const ended = strandedBy(response.status);
    if (ended) return this.strand(ended); // nothing of this audit can go any more: keep it all
    if (response.status === 429) return this.later(item, Number(retryAfter) * 1000 || null);
    if (response.status >= 500 || response.status === 408) return this.later(item);
    if (code === 'hash_mismatch') {
      item.mismatches += 1;
      if (item.mismatches < MAX_MISMATCHES) return this.later(item);
      return this.drop(item, this.damaged());
    }
    return this.drop(item, this.problem(response.status, body, retryAfter));
  }

  async sent(item) {
    await this.forget(item);
    this.settle(item, { state: 'sent' });
  }

  async drop(item, text) {
    await this.forget(item);
    this.settle(item, { state: 'refused', text });
    this.dispatchEvent(new CustomEvent('refused', { detail: { item, text } }));
  }

  async forget(item) {
    await this.store.remove(item.id);
    this.items = this.items.filter((other) => other.id !== item.id);
    this.changed();
  }

  async later(item, waitMs = null) {
    item.attempts += 1;
    const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (item.attempts - 1));
    item.nextAt = Date.now() + (waitMs || backoff * (0.75 + Math.random() / 2));
    try { await this.store.put(item); } catch { /* the back-off is kept in memory anyway */ }
    this.settle(item, { state: 'queued' });
    this.changed();
  }

  async rekey(item) {
    const bytes = await this.store.bytes(item.id);
    await this.store.remove(item.id);
    item.id = crypto.randomUUID();
    await this.store.put(item, bytes);
  }

  settle(item, outcome) {
    const waiter = this.waiters.get(item.id);
    this.waiters.delete(item.id);
    if (waiter) waiter.resolve(outcome);
  }

  changed() {
    this.dispatchEvent(new CustomEvent('change', { detail: this.state() }));
  }
}
