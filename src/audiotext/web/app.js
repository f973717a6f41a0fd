// AudioText web app: upload, watch jobs move, read and listen to transcripts, transcribe live.
// Plain modules, no build step: everything it needs comes from this server.
import { LiveTranscription } from "./live.js";

const FINAL = new Set(["completed", "failed", "cancelled"]);
const STATUS_WORDS = {
  pending: "Waiting",
  processing: "Transcribing",
  completed: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
};
const PAGE = 10;
const KEY_STORE = "audiotext.key";

const $ = (id) => document.getElementById(id);
const state = {
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

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORE) || "";
}

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function errorOf(response) {
  let message = `The server answered ${response.status}.`;
  try {
    const body = await response.json();
    message = body.detail || (body.error && body.error.message) || message;
  } catch (_) {
    /* not JSON: keep the status line */
  }
  return new ApiError(response.status, message);
}

async function api(path, init = {}) {
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

const getJson = async (path) => (await api(path)).json();

// --- notices -----------------------------------------------------------------------------

function notice(text) {
  $("notice").textContent = text;
}

function showError(el, error) {
  el.textContent = error instanceof ApiError || error instanceof Error ? error.message : String(error);
}

// --- the API key -------------------------------------------------------------------------

let keyWaiters = [];

// Opens the key prompt; with ``wait``, a promise that resolves once a key is accepted (the
// caller goes on from there), else the page reloads its view when one is.
function askForKey(message = "", wait = false) {
  $("key-error").textContent = message;
  $("key-input").value = "";
  if (!$("key-dialog").open) $("key-dialog").showModal();
  $("key-input").focus();
  return wait ? new Promise((resolve) => keyWaiters.push(resolve)) : Promise.resolve();
}

async function submitKey(event) {
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
  closeSockets();
  if (waiters.length) waiters.forEach((resolve) => resolve());
  else route();
}

// --- formatting --------------------------------------------------------------------------

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function bytes(n) {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 / 1024 / 1024).toFixed(1)} GB`;
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(0)} MB`;
  return `${Math.ceil(n / 1024)} KB`;
}

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

function languageName(code) {
  try {
    return new Intl.DisplayNames([navigator.language || "en"], { type: "language" }).of(code) || code;
  } catch (_) {
    return code;
  }
}

function speakerClass(id) {
  const ids = (state.transcript && state.transcript.speakers || []).map((s) => s.id);
  const index = Math.max(0, ids.indexOf(id));
  return `s${index % 8}`;
}

function speakerName(id) {
  return (id && state.names[id]) || id || "";
}

// --- options and upload ------------------------------------------------------------------

async function loadOptions() {
  const response = await fetch("/api/v1/options").catch(() => null);
  if (!response || !response.ok) {
    notice("The server cannot be reached. Reload the page to try again.");
    return;
  }
  state.options = await response.json();
  const upload = state.options.upload;
  $("file-hint").textContent =
    `${upload.extensions.join(", ")} · up to ${bytes(upload.max_bytes)}`;
  $("key-button").hidden = !state.options.auth;
  for (const code of state.options.languages) {
    $("language").append(new Option(languageName(code), code));
    $("live-language").append(new Option(languageName(code), code));
  }
  for (const id of ["min-speakers", "max-speakers"]) $(id).max = state.options.diarization.max_speakers;
  $("download-buttons").replaceChildren(...state.options.output_formats.map((format) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quiet";
    button.dataset.format = format;
    button.textContent = format;
    button.addEventListener("click", () => download(format));
    return button;
  }));
  if (state.options.auth && !apiKey()) await askForKey("", true);
  await loadModels();
}

async function loadModels() {
  const select = $("model");
  select.replaceChildren();
  try {
    const models = (await getJson("/v1/models")).data.filter((m) => m.id !== "whisper-1");
    for (const model of models) select.append(new Option(model.id, model.id));
    select.value = state.options.default_model;
  } catch (_) {
    select.append(new Option(state.options.default_model, state.options.default_model));
  }
}

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

function contentTypeOf(file) {
  const known = { mp3: "audio/mpeg", wav: "audio/wav", flac: "audio/flac", m4a: "audio/mp4",
    mp4: "audio/mp4", aac: "audio/aac", ogg: "audio/ogg", webm: "audio/webm" };
  const type = (file.type || "").toLowerCase();
  if (state.options.upload.content_types.includes(type)) return type;
  return known[extensionOf(file.name)] || type;
}

// Why a file cannot be sent, before a byte of it is: or "" when it can.
function refusal(file) {
  const upload = state.options.upload;
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > upload.max_bytes) {
    return `${file.name} is ${bytes(file.size)}; this server takes files up to ${bytes(upload.max_bytes)}.`;
  }
  const known = upload.extensions.includes(extensionOf(file.name));
  if (!known && !upload.content_types.includes((file.type || "").toLowerCase())) {
    return `${file.name} is not a supported audio file. Use ${upload.extensions.join(", ")}.`;
  }
  return "";
}

function chosenFile() {
  return state.dropped || $("file-input").files[0] || null;
}

function pickFile(file) {
  state.dropped = file;
  $("file-name").textContent = file ? `${file.name} · ${bytes(file.size)}` : "";
  $("upload-error").textContent = file ? refusal(file) : "";
}

function jobFields() {
  const fields = {
    model: $("model").value || undefined,
    language: $("language").value || undefined,
    task: $("task").value,
  };
  if ($("diarize").checked) {
    fields.diarize = true;
    const low = $("min-speakers").value;
    const high = $("max-speakers").value;
    if (low) fields.min_speakers = Number(low);
    if (high) fields.max_speakers = Number(high);
  }
  return fields;
}

// XMLHttpRequest, not fetch: only it reports how far an upload has gone.
function send(method, url, body, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => resolve(request);
    request.onerror = () => reject(new ApiError(0, "The upload was interrupted. Try again."));
    request.send(body);
  });
}

async function answerOf(request) {
  if (request.status === 401) {
    sessionStorage.removeItem(KEY_STORE);
    askForKey("That key was not accepted. Enter a valid API key.");
  }
  let body = {};
  try {
    body = JSON.parse(request.responseText || "{}");
  } catch (_) {
    /* S3 answers in XML */
  }
  if (request.status >= 200 && request.status < 300) return body;
  const message = body.detail || (body.error && body.error.message) ||
    `The server answered ${request.status}.`;
  throw new ApiError(request.status, message);
}

async function upload(event) {
  event.preventDefault();
  const file = chosenFile();
  const error = $("upload-error");
  if (!file) {
    error.textContent = "Choose an audio file first.";
    return;
  }
  const why = refusal(file);
  if (why) {
    error.textContent = why;
    return;
  }
  const low = Number($("min-speakers").value || 0);
  const high = Number($("max-speakers").value || 0);
  if ($("diarize").checked && low && high && low > high) {
    error.textContent = "“At least” cannot be more than “at most”.";
    return;
  }
  error.textContent = "";
  const bar = $("upload-progress");
  const status = $("upload-status");
  const button = $("upload-button");
  bar.hidden = false;
  bar.value = 0;
  button.disabled = true;
  const progress = (fraction) => {
    bar.value = Math.round(fraction * 100);
    status.textContent = `Uploading… ${bar.value}%`;
  };
  try {
    const job = state.options.upload.method === "presigned"
      ? await uploadPresigned(file, progress)
      : await uploadMultipart(file, progress);
    bar.value = 100;
    status.textContent = `Uploaded. ${file.name} is ${STATUS_WORDS[job.status].toLowerCase()}.`;
    pickFile(null);
    $("upload-form").reset();
    syncSpeakerInputs();
    state.offset = 0;
    await loadJobs();
  } catch (err) {
    status.textContent = "";
    showError(error, err);
  } finally {
    button.disabled = false;
  }
}

async function uploadMultipart(file, progress) {
  const form = new FormData();
  for (const [name, value] of Object.entries(jobFields())) {
    if (value !== undefined) form.append(name, String(value));
  }
  form.append("file", file, file.name);
  const request = await send("POST", "/api/v1/job/transcribe", form, authHeaders(), progress);
  return answerOf(request);
}

async function uploadPresigned(file, progress) {
  const contentType = contentTypeOf(file);
  const signed = await (await api("/api/v1/audio/presigned-url", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ filename: file.name, content_type: contentType, size: file.size }),
  })).json();
  const put = await send(signed.method, signed.upload_url, file, signed.headers, progress);
  if (put.status < 200 || put.status >= 300) {
    throw new ApiError(put.status, `Storage refused the upload (${put.status}). Try again.`);
  }
  const response = await api("/api/v1/job/transcribe", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...jobFields(), filename: file.name, url: signed.url }),
  });
  return response.json();
}

function syncSpeakerInputs() {
  const on = $("diarize").checked;
  $("min-speakers").disabled = !on;
  $("max-speakers").disabled = !on;
}

// --- the jobs list -----------------------------------------------------------------------

async function loadJobs() {
  const filter = $("status-filter").value;
  const query = new URLSearchParams({ limit: PAGE, offset: state.offset });
  if (filter) query.set("status", filter);
  let page;
  try {
    page = await getJson(`/api/v1/job/read?${query}`);
  } catch (err) {
    if (err.status !== 401) notice(err.message);
    return;
  }
  state.total = page.total;
  const list = $("job-list");
  list.replaceChildren(...page.items.map(jobItem));
  const empty = $("jobs-empty");
  empty.hidden = page.items.length > 0;
  empty.textContent = filter
    ? "No jobs with this status."
    : "No jobs yet. Upload a recording to start one.";
  const last = Math.min(state.offset + page.items.length, page.total);
  $("page-info").textContent = page.total ? `${state.offset + 1}–${last} of ${page.total}` : "";
  $("prev-page").disabled = state.offset === 0;
  $("next-page").disabled = last >= page.total;
  for (const job of page.items) if (!FINAL.has(job.status)) watch(job.id);
}

function jobItem(job) {
  const item = document.createElement("li");
  item.className = "job";
  item.dataset.id = job.id;
  fillJobItem(item, job);
  return item;
}

function fillJobItem(item, job) {
  const link = document.createElement("a");
  link.href = `#/jobs/${job.id}`;
  link.textContent = job.filename;
  const badge = document.createElement("span");
  badge.className = `badge ${job.status}`;
  badge.textContent = STATUS_WORDS[job.status] || job.status;
  const meta = document.createElement("span");
  meta.className = "meta";
  const parts = [job.model, when(job.creation_date)];
  if (job.audio_duration_seconds) parts.unshift(clock(job.audio_duration_seconds));
  meta.textContent = parts.join(" · ");
  const children = [link, badge, meta];
  if (!FINAL.has(job.status)) {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = job.progress;
    bar.setAttribute("aria-label", `Progress of ${job.filename}`);
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "danger";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", `Cancel ${job.filename}`);
    cancel.addEventListener("click", () => cancelJob(job.id));
    children.push(bar, cancel);
    const text = state.live.get(job.id);
    if (text) {
      const live = document.createElement("span");
      live.className = "live";
      live.textContent = text;
      children.push(live);
    }
  } else if (job.status === "failed" && job.error_message) {
    const why = document.createElement("span");
    why.className = "meta error";
    why.textContent = job.error_message;
    children.push(why);
  }
  item.replaceChildren(...children);
}

async function cancelJob(id) {
  try {
    await api(`/api/v1/job/${id}`, { method: "DELETE" });
    notice("The job was cancelled.");
  } catch (err) {
    notice(err.status === 409 ? "That job has already finished." : err.message);
  }
  await refresh();
}

// --- live updates ------------------------------------------------------------------------

function watch(id) {
  if (state.sockets.has(id)) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const key = apiKey();
  const query = key ? `?token=${encodeURIComponent(key)}` : "";
  const socket = new WebSocket(`${scheme}://${location.host}/api/v1/job/ws/${id}${query}`);
  state.sockets.set(id, socket);
  socket.onmessage = (message) => {
    const job = JSON.parse(message.data);
    if (job.segment && job.segment.text) {
      state.live.set(id, ((state.live.get(id) || "") + job.segment.text).slice(-400));
    }
    updateJob(job);
  };
  socket.onclose = () => {
    state.sockets.delete(id);
  };
}

function closeSockets() {
  for (const socket of state.sockets.values()) socket.close();
  state.sockets.clear();
}

function updateJob(job) {
  const item = document.querySelector(`#job-list li[data-id="${CSS.escape(job.id)}"]`);
  if (item) fillJobItem(item, job);
  if (state.job && state.job.id === job.id) showJobState(job);
  if (FINAL.has(job.status)) {
    state.live.delete(job.id);
    if (state.job && state.job.id === job.id && job.status === "completed") openJob(job.id);
  }
}

async function refresh() {
  if (state.job) await openJob(state.job.id);
  else await loadJobs();
}

// --- one job and its transcript ----------------------------------------------------------

function showJobState(job) {
  state.job = job;
  $("job-title").textContent = job.filename;
  const meta = [job.model];
  if (job.audio_duration_seconds) meta.push(clock(job.audio_duration_seconds));
  if (job.language) meta.push(languageName(job.language));
  if (job.speakers) meta.push(`${job.speakers} speaker${job.speakers === 1 ? "" : "s"}`);
  if (job.shards) meta.push(`${job.shards.succeeded}/${job.shards.total} shards`);
  meta.push(when(job.creation_date));
  $("job-meta").textContent = meta.join(" · ");
  const running = !FINAL.has(job.status);
  $("job-progress").hidden = !running;
  $("job-progress").value = job.progress;
  $("job-status").textContent = running
    ? `${STATUS_WORDS[job.status]}… ${job.progress}%`
    : STATUS_WORDS[job.status];
  $("job-cancel").hidden = !running;
  $("job-live").textContent = running ? state.live.get(job.id) || "" : "";
  $("job-error").textContent = job.status === "failed"
    ? `The transcription failed: ${job.error_message || "no reason was given"}.`
    : job.status === "cancelled" ? "This job was cancelled." : "";
}

async function openJob(id) {
  let job;
  try {
    job = await getJson(`/api/v1/job/status/${encodeURIComponent(id)}`);
  } catch (err) {
    $("job-title").textContent = "Job not found";
    $("job-error").textContent = err.status === 404
      ? "There is no such job, or it belongs to another key."
      : err.message;
    return;
  }
  const fresh = !state.job || state.job.id !== id || !state.transcript;
  showJobState(job);
  if (job.status !== "completed") {
    $("transcript-tools").hidden = true;
    $("segments").replaceChildren();
    state.transcript = null;
    watch(id);
    return;
  }
  if (!fresh) return;
  state.transcript = await getJson(`/api/v1/job/${id}/transcript?format=json`);
  state.names = {};
  await setAudio(id);
  renderSpeakers();
  renderSegments();
  $("transcript-tools").hidden = false;
  // Speaker turns only exist where the job said who spoke.
  const rttm = document.querySelector('[data-format="rttm"]');
  if (rttm) rttm.hidden = !state.transcript.speakers;
}

async function setAudio(id) {
  let src = `/api/v1/job/${id}/audio`;
  if (state.options.auth) {
    try {
      src = (await (await api(`/api/v1/job/${id}/audio-link`, { method: "POST" })).json()).url;
    } catch (err) {
      notice(`The audio cannot be played: ${err.message}`);
    }
  }
  $("player").src = src;
}

function renderSpeakers() {
  const speakers = state.transcript.speakers || [];
  $("speakers").hidden = speakers.length === 0;
  $("speaker-list").replaceChildren(...speakers.map((speaker) => {
    const item = document.createElement("li");
    item.className = speakerClass(speaker.id);
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.setAttribute("aria-hidden", "true");
    const label = document.createElement("label");
    label.className = "inline grow";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `${speaker.id} (${clock(speaker.seconds)})`;
    const input = document.createElement("input");
    input.type = "text";
    input.maxLength = 64;
    input.placeholder = "Name";
    input.value = state.names[speaker.id] || "";
    input.setAttribute("aria-label", `Name for ${speaker.id}`);
    input.addEventListener("input", () => {
      const value = input.value.trim();
      if (value) state.names[speaker.id] = value;
      else delete state.names[speaker.id];
      for (const el of document.querySelectorAll(`.who[data-speaker="${CSS.escape(speaker.id)}"]`)) {
        el.textContent = speakerName(speaker.id);
      }
    });
    label.append(name, input);
    item.append(swatch, label);
    return item;
  }));
}

function renderSegments() {
  state.words = [];
  state.current = null;
  const items = state.transcript.segments.map((segment) => {
    const item = document.createElement("li");
    item.className = "segment";
    if (segment.speaker) item.classList.add(speakerClass(segment.speaker));
    const time = document.createElement("button");
    time.type = "button";
    time.className = "time quiet";
    time.textContent = clock(segment.start);
    time.setAttribute("aria-label", `Play from ${clock(segment.start)}`);
    time.addEventListener("click", () => seek(segment.start));
    const body = document.createElement("div");
    body.className = "text";
    if (segment.speaker) {
      const who = document.createElement("div");
      who.className = "who";
      who.dataset.speaker = segment.speaker;
      who.textContent = speakerName(segment.speaker);
      body.append(who);
    }
    const line = document.createElement("p");
    line.style.margin = "0";
    const words = segment.words && segment.words.length
      ? segment.words
      : [{ word: segment.text, start: segment.start, end: segment.end }];
    for (const word of words) {
      const span = document.createElement("span");
      span.className = "word";
      span.textContent = word.word;
      span.dataset.start = word.start;
      span.addEventListener("click", () => seek(word.start));
      line.append(span);
      state.words.push({ start: word.start, end: word.end, el: span });
    }
    body.append(line);
    item.append(time, body);
    item.dataset.text = segment.text.toLowerCase();
    return item;
  });
  $("segments").replaceChildren(...items);
  search();
}

function seek(seconds) {
  const player = $("player");
  player.currentTime = seconds;
  player.play().catch(() => { /* a player may refuse to start without a gesture */ });
}

// The word under the player's position, found by bisection (words are in time order).
function highlight() {
  const t = $("player").currentTime;
  const words = state.words;
  let low = 0;
  let high = words.length - 1;
  let found = null;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (words[middle].start <= t) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  const word = found !== null && t < words[found].end + 0.3 ? words[found].el : null;
  if (word === state.current) return;
  if (state.current) {
    state.current.classList.remove("current");
    state.current.removeAttribute("aria-current");
  }
  state.current = word;
  if (word) {
    word.classList.add("current");
    word.setAttribute("aria-current", "true");
  }
}

function search() {
  const query = $("search").value.trim().toLowerCase();
  let count = 0;
  let first = null;
  for (const { el } of state.words) {
    const hit = query !== "" && el.textContent.toLowerCase().includes(query);
    el.classList.toggle("match", hit);
    if (hit) {
      count += 1;
      first = first || el;
    }
  }
  $("search-count").textContent = query
    ? count ? `${count} match${count === 1 ? "" : "es"}` : "No matches."
    : "";
  if (first) first.scrollIntoView({ block: "nearest" });
}

async function download(format) {
  const id = state.job.id;
  const query = new URLSearchParams({ format });
  if (Object.keys(state.names).length) query.set("speaker_names", JSON.stringify(state.names));
  try {
    const blob = await (await api(`/api/v1/job/${id}/transcript?${query}`)).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    const base = state.job.filename.replace(/\.[^.]+$/, "") || "transcript";
    link.download = `${base}.${format}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (err) {
    notice(`The download failed: ${err.message}`);
  }
}

async function copyText() {
  const segments = state.transcript.segments;
  const text = segments.map((s) => (s.speaker ? `${speakerName(s.speaker)}: ` : "") + s.text.trim())
    .join("\n");
  try {
    await navigator.clipboard.writeText(text);
    notice("The transcript was copied.");
  } catch (_) {
    notice("This browser did not allow copying. Select the text and copy it instead.");
  }
}

// --- live ------------------------------------------------------------------------------

function liveTurn(id) {
  let item = document.querySelector(`#live-turns li[data-item="${CSS.escape(id)}"]`);
  if (!item) {
    item = document.createElement("li");
    item.className = "segment turn open";
    item.dataset.item = id;
    const time = document.createElement("span");
    time.className = "hint";
    time.textContent = clock((Date.now() - state.liveStarted) / 1000);
    const text = document.createElement("p");
    text.className = "text";
    text.style.margin = "0";
    item.append(time, text);
    $("live-turns").append(item);
    $("live-empty").hidden = true;
  }
  return item;
}

function onLiveEvent(event) {
  if (event.type === "input_audio_buffer.speech_started") {
    liveTurn(event.item_id);
    $("live-state").textContent = "Hearing you…";
  } else if (event.type === "conversation.item.input_audio_transcription.delta") {
    liveTurn(event.item_id).querySelector(".text").textContent += event.delta;
  } else if (event.type === "conversation.item.input_audio_transcription.completed") {
    const item = liveTurn(event.item_id);
    item.classList.remove("open");
    item.querySelector(".text").textContent = event.transcript;
    if (!event.transcript) item.remove();
    $("live-state").textContent = state.live ? "Listening" : "";
  } else if (event.type === "error" && event.error.code !== "input_audio_buffer_commit_empty") {
    $("live-error").textContent = event.error.message;
  }
}

async function startLive() {
  $("live-error").textContent = "";
  $("live-start").disabled = true;
  state.liveStarted = Date.now();
  const live = new LiveTranscription({
    key: apiKey(),
    language: $("live-language").value,
    onEvent: onLiveEvent,
    onState: (what) => {
      $("live-state").textContent = { listening: "Listening", stopped: "", failed: "" }[what] || "";
      if (what === "failed") $("live-error").textContent = "The live connection failed. Try again.";
      if (what !== "listening") {
        state.live = null;
        $("live-start").disabled = false;
        $("live-stop").disabled = true;
      }
    },
  });
  try {
    await live.start();
    state.live = live;
    $("live-stop").disabled = false;
  } catch (err) {
    live.release();
    $("live-start").disabled = false;
    $("live-error").textContent = err && err.name === "NotAllowedError"
      ? "The browser did not allow the microphone. Allow it for this page and try again."
      : `Live transcription could not start: ${err.message || err}`;
  }
}

function stopLive() {
  if (state.live) state.live.stop();
  $("live-stop").disabled = true;
  $("live-state").textContent = "Finishing…";
}

// --- views -------------------------------------------------------------------------------

async function route() {
  const match = location.hash.match(/^#\/jobs\/([\w-]+)$/);
  const live = location.hash === "#/live";
  $("home-view").hidden = Boolean(match) || live;
  $("job-view").hidden = !match;
  $("live-view").hidden = !live;
  $("live-link").toggleAttribute("aria-current", live);
  if (live) $("live-link").setAttribute("aria-current", "page");
  notice("");
  if (live) {
    $("live-title").focus();
    return;
  }
  if (match) {
    if (!state.job || state.job.id !== match[1]) {
      state.job = null;
      state.transcript = null;
      $("segments").replaceChildren();
      $("transcript-tools").hidden = true;
      $("search").value = "";
    }
    await openJob(match[1]);
    $("job-title").focus?.();
  } else {
    state.job = null;
    state.transcript = null;
    $("player").removeAttribute("src");
    await loadJobs();
  }
}

function bind() {
  $("upload-form").addEventListener("submit", upload);
  $("file-input").addEventListener("change", () => pickFile($("file-input").files[0] || null));
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) pickFile(file);
  });
  $("diarize").addEventListener("change", syncSpeakerInputs);
  $("status-filter").addEventListener("change", () => {
    state.offset = 0;
    loadJobs();
  });
  $("prev-page").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE);
    loadJobs();
  });
  $("next-page").addEventListener("click", () => {
    state.offset += PAGE;
    loadJobs();
  });
  $("job-cancel").addEventListener("click", () => state.job && cancelJob(state.job.id));
  $("player").addEventListener("timeupdate", highlight);
  $("player").addEventListener("seeked", highlight);
  $("search").addEventListener("input", search);
  $("copy-text").addEventListener("click", copyText);
  $("key-form").addEventListener("submit", submitKey);
  $("key-dialog").addEventListener("cancel", (event) => {
    if (!apiKey()) event.preventDefault(); // nothing works without a key
  });
  $("key-button").addEventListener("click", () => askForKey());
  $("live-start").addEventListener("click", startLive);
  $("live-stop").addEventListener("click", stopLive);
  window.addEventListener("hashchange", route);
}

bind();
loadOptions().then(route);
