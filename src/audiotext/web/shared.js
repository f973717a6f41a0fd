// What every part of the web app shares: its state, the server, the key prompt, formatting.
export const FINAL = new Set(["completed", "failed", "cancelled"]);
export const STATUS_WORDS = {
  pending: "Waiting",
  processing: "Transcribing",
  completed: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
};
export const PAGE = 10;
export const KEY_STORE = "audiotext.key";

export const $ = (id) => document.getElementById(id);
export const state = {
  options: null,
  offset: 0,
  total: 0,
  sockets: new Map(), // job id → WebSocket while it runs
  live: new Map(), // job id → text decoded so far
  job: null, // the job in the transcript view
  transcript: null,
  names: {}, // speaker id → the name given in this view
  words: [], // [{start, end, el}] in time order, for the player's highlight
  current: null,
};

// --- the server --------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORE) || "";
}

export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export async function errorOf(response) {
  let message = `The server answered ${response.status}.`;
  try {
    const body = await response.json();
    message = body.detail || (body.error && body.error.message) || message;
  } catch (_) {
    /* not JSON: keep the status line */
  }
  return new ApiError(response.status, message);
}

export async function api(path, init = {}) {
  let response;
  try {
    response = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers || {}) } });
  } catch (_) {
    throw new ApiError(0, "The server cannot be reached. Check your connection and try again.");
  }
  if (response.status === 401) {
    const error = await errorOf(response);
    sessionStorage.removeItem(KEY_STORE);
    askForKey("That key was not accepted. Enter a valid API key.");
    throw error;
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export const getJson = async (path) => (await api(path)).json();

// --- notices -----------------------------------------------------------------------------

export function notice(text) {
  $("notice").textContent = text;
}

export function showError(el, error) {
  el.textContent = error instanceof ApiError || error instanceof Error ? error.message : String(error);
}

// --- the API key -------------------------------------------------------------------------

let keyWaiters = [];
// What the page does once a new key is accepted (set by app.js).
export const hooks = { keyAccepted: () => {} };

// Opens the key prompt; with ``wait``, a promise that resolves once a key is accepted (the
// caller goes on from there), else the page reloads its view when one is.
export function askForKey(message = "", wait = false) {
  $("key-error").textContent = message;
  $("key-input").value = "";
  if (!$("key-dialog").open) $("key-dialog").showModal();
  $("key-input").focus();
  return wait ? new Promise((resolve) => keyWaiters.push(resolve)) : Promise.resolve();
}

export async function submitKey(event) {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) {
    $("key-error").textContent = "Enter your API key.";
    return;
  }
  const response = await fetch("/api/v1/job/read?limit=1", {
    headers: { Authorization: `Bearer ${key}` },
  }).catch(() => null);
  if (!response || response.status === 401) {
    $("key-error").textContent = "That key was not accepted. Check it and try again.";
    $("key-input").select();
    return;
  }
  sessionStorage.setItem(KEY_STORE, key);
  $("key-dialog").close();
  const waiters = keyWaiters;
  keyWaiters = [];
  hooks.keyAccepted(waiters.length > 0);
  waiters.forEach((resolve) => resolve());
}

// --- formatting --------------------------------------------------------------------------

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function bytes(n) {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 / 1024 / 1024).toFixed(1)} GB`;
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(0)} MB`;
  return `${Math.ceil(n / 1024)} KB`;
}

export function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

export function languageName(code) {
  try {
    return new Intl.DisplayNames([navigator.language || "en"], { type: "language" }).of(code) || code;
  } catch (_) {
    return code;
  }
}

export function speakerClass(id) {
  const ids = (state.transcript && state.transcript.speakers || []).map((s) => s.id);
  const index = Math.max(0, ids.indexOf(id));
  return `s${index % 8}`;
}

export function speakerName(id) {
  return (id && state.names[id]) || id || "";
}
